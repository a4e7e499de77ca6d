/* engine._fastwire: a turn's traces as one log frame, written in C.
 *
 * An optional accelerator. engine/feed.py defines the wire form of a trace (`to_wire`) and
 * packs a turn's traces with `to_frame`, one `marshal.dumps` call; that costs the server
 * some 17,000 instructions per request, the largest part of what the request log costs it.
 * `Encoder(traces)` writes the same values straight from the Trace, Message and Span
 * objects' slots into marshal's format (as version 4 reads it, without back-references),
 * behind the frame's 4-byte length: `marshal.loads` of the payload gives what
 * `[to_wire(t) for t in traces]` gives. Anything it does not expect (a subclass, a set, an
 * int beyond 62 bits, a str with a lone surrogate, a slot not set, a payload over its
 * limit) makes it answer None, and feed.py packs that turn in Python as before. The
 * property tests hold the two to each other.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <structmember.h>

/* The slots read, in to_wire's order. */
static const char *TRACE_FIELDS[] = {"id", "time", "method", "path", "query", "status", "duration_ms", "route",
                                     "client", "source", "replay_of", "request", "response", "spans"};
enum { T_ID, T_TIME, T_METHOD, T_PATH, T_QUERY, T_STATUS, T_DURATION, T_ROUTE, T_CLIENT, T_SOURCE, T_REPLAY_OF,
       T_REQUEST, T_RESPONSE, T_SPANS, T_COUNT };
static const char *MESSAGE_FIELDS[] = {"headers", "body", "truncated", "size"};
#define M_COUNT 4
static const char *SPAN_FIELDS[] = {"kind", "layer", "name", "file", "line", "start_ms", "duration_ms", "outcome",
                                    "context", "error"};
#define S_COUNT 10

#define MAX_DEPTH 64 /* nesting in route params or span context; deeper goes the Python way */

typedef struct {
    PyObject_HEAD
    PyTypeObject *trace_type, *message_type, *span_type;
    Py_ssize_t trace_at[T_COUNT], message_at[M_COUNT], span_at[S_COUNT];
    long version;
    Py_ssize_t limit; /* the most payload bytes a frame made here may hold */
    vectorcallfunc vectorcall;
} Encoder;

typedef struct {
    char *data;
    Py_ssize_t size, cap, limit;
} Buf;

/* Each writer returns 0, or 1 for "not here: let Python pack this turn" (no exception
 * set), or -1 with an exception set (out of memory). */
#define UNSUPPORTED 1

static int
reserve(Buf *b, Py_ssize_t n)
{
    if (b->size + n <= b->cap)
        return 0;
    if (b->size + n > b->limit)
        return UNSUPPORTED;
    Py_ssize_t cap = b->cap * 2;
    while (cap < b->size + n)
        cap *= 2;
    if (cap > b->limit) /* the buffer never holds more than the limit: every write past it asks here */
        cap = b->limit;
    char *data = PyMem_Realloc(b->data, cap);
    if (data == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    b->data = data;
    b->cap = cap;
    return 0;
}

static inline void
put_u32(char *at, uint32_t n) /* little-endian, as marshal writes lengths and ints */
{
    at[0] = (char)(n & 0xff);
    at[1] = (char)((n >> 8) & 0xff);
    at[2] = (char)((n >> 16) & 0xff);
    at[3] = (char)((n >> 24) & 0xff);
}

static int
put_sized(Buf *b, char code, const char *data, Py_ssize_t n)
{
    if (n > INT32_MAX)
        return UNSUPPORTED;
    int r = reserve(b, 5 + n);
    if (r)
        return r;
    b->data[b->size] = code;
    put_u32(b->data + b->size + 1, (uint32_t)n);
    memcpy(b->data + b->size + 5, data, n);
    b->size += 5 + n;
    return 0;
}

static int write_value(Buf *b, PyObject *v, int depth);

static int
write_items(Buf *b, PyObject *const *items, Py_ssize_t n, int depth)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        int r = write_value(b, items[i], depth);
        if (r)
            return r;
    }
    return 0;
}

/* The header of a tuple of n items: marshal's small tuple below 256. */
static int
tuple_header(Buf *b, Py_ssize_t n)
{
    int r = reserve(b, 5);
    if (r)
        return r;
    if (n < 256) {
        b->data[b->size++] = ')';
        b->data[b->size++] = (char)n;
    }
    else {
        b->data[b->size] = '(';
        put_u32(b->data + b->size + 1, (uint32_t)n);
        b->size += 5;
    }
    return 0;
}

static int
write_value(Buf *b, PyObject *v, int depth)
{
    int r;
    if (depth > MAX_DEPTH)
        return UNSUPPORTED;
    if (v == Py_None || v == Py_True || v == Py_False) {
        if ((r = reserve(b, 1)))
            return r;
        b->data[b->size++] = v == Py_None ? 'N' : v == Py_True ? 'T' : 'F';
        return 0;
    }
    PyTypeObject *type = Py_TYPE(v);
    if (type == &PyUnicode_Type) {
        Py_ssize_t n;
        if (PyUnicode_IS_ASCII(v)) {
            n = PyUnicode_GET_LENGTH(v);
            if (n < 256) {
                if ((r = reserve(b, 2 + n)))
                    return r;
                b->data[b->size] = 'z';
                b->data[b->size + 1] = (char)n;
                memcpy(b->data + b->size + 2, PyUnicode_DATA(v), n);
                b->size += 2 + n;
                return 0;
            }
            return put_sized(b, 'a', (const char *)PyUnicode_DATA(v), n);
        }
        const char *utf8 = PyUnicode_AsUTF8AndSize(v, &n);
        if (utf8 == NULL) { /* a lone surrogate: marshal writes it with surrogatepass */
            PyErr_Clear();
            return UNSUPPORTED;
        }
        return put_sized(b, 'u', utf8, n);
    }
    if (type == &PyLong_Type) {
        int overflow;
        long long n = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (overflow || n < -(1LL << 62) || n > (1LL << 62))
            return UNSUPPORTED;
        if (n >= INT32_MIN && n <= INT32_MAX) {
            if ((r = reserve(b, 5)))
                return r;
            b->data[b->size] = 'i';
            put_u32(b->data + b->size + 1, (uint32_t)(int32_t)n);
            b->size += 5;
            return 0;
        }
        /* marshal's long: the count of 15-bit digits (negative for a negative number),
         * then the digits, least significant first, two bytes each */
        unsigned long long rest = n < 0 ? (unsigned long long)(-n) : (unsigned long long)n;
        char digits[10];
        int count = 0;
        while (rest) {
            digits[2 * count] = (char)(rest & 0xff);
            digits[2 * count + 1] = (char)((rest >> 8) & 0x7f);
            rest >>= 15;
            count++;
        }
        if ((r = reserve(b, 5 + 2 * count)))
            return r;
        b->data[b->size] = 'l';
        put_u32(b->data + b->size + 1, (uint32_t)(int32_t)(n < 0 ? -count : count));
        memcpy(b->data + b->size + 5, digits, 2 * count);
        b->size += 5 + 2 * count;
        return 0;
    }
    if (type == &PyFloat_Type) {
        if ((r = reserve(b, 9)))
            return r;
        b->data[b->size] = 'g';
        if (PyFloat_Pack8(PyFloat_AS_DOUBLE(v), b->data + b->size + 1, 1) < 0)
            return -1;
        b->size += 9;
        return 0;
    }
    if (type == &PyBytes_Type)
        return put_sized(b, 's', PyBytes_AS_STRING(v), PyBytes_GET_SIZE(v));
    if (type == &PyTuple_Type) {
        Py_ssize_t n = PyTuple_GET_SIZE(v);
        if ((r = tuple_header(b, n)))
            return r;
        return write_items(b, &PyTuple_GET_ITEM(v, 0), n, depth + 1);
    }
    if (type == &PyList_Type) {
        Py_ssize_t n = PyList_GET_SIZE(v);
        if ((r = reserve(b, 5)))
            return r;
        b->data[b->size] = '[';
        put_u32(b->data + b->size + 1, (uint32_t)n);
        b->size += 5;
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(v); i++) { /* re-read: items are borrowed */
            if ((r = write_value(b, PyList_GET_ITEM(v, i), depth + 1)))
                return r;
        }
        return PyList_GET_SIZE(v) == n ? 0 : UNSUPPORTED;
    }
    if (type == &PyDict_Type) {
        if ((r = reserve(b, 1)))
            return r;
        b->data[b->size++] = '{';
        Py_ssize_t pos = 0;
        PyObject *key, *value;
        while (PyDict_Next(v, &pos, &key, &value)) {
            if ((r = write_value(b, key, depth + 1)) || (r = write_value(b, value, depth + 1)))
                return r;
        }
        if ((r = reserve(b, 1)))
            return r;
        b->data[b->size++] = '0';
        return 0;
    }
    return UNSUPPORTED; /* subclasses, sets, complex...: marshal may take them; Python decides */
}

/* The slot at `offset` of `obj`, borrowed; NULL when it is not set. */
static inline PyObject *
slot(PyObject *obj, Py_ssize_t offset)
{
    return *(PyObject **)((char *)obj + offset);
}

static int
write_slots(Buf *b, PyObject *obj, const Py_ssize_t *at, Py_ssize_t count)
{
    int r;
    if ((r = tuple_header(b, count)))
        return r;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *value = slot(obj, at[i]);
        if (value == NULL)
            return UNSUPPORTED;
        if ((r = write_value(b, value, 1)))
            return r;
    }
    return 0;
}

/* to_wire(trace). */
static int
write_trace(Encoder *self, Buf *b, PyObject *trace)
{
    int r;
    if (Py_TYPE(trace) != self->trace_type)
        return UNSUPPORTED;
    PyObject *fields[T_COUNT];
    for (int i = 0; i < T_COUNT; i++) {
        if ((fields[i] = slot(trace, self->trace_at[i])) == NULL)
            return UNSUPPORTED;
    }
    if ((r = tuple_header(b, 15)) || (r = reserve(b, 5)))
        return r;
    b->data[b->size] = 'i';
    put_u32(b->data + b->size + 1, (uint32_t)self->version);
    b->size += 5;
    for (int i = T_ID; i <= T_ROUTE; i++) {
        if ((r = write_value(b, fields[i], 1)))
            return r;
    }
    /* tuple(trace.client) if trace.client else None */
    PyObject *client = fields[T_CLIENT];
    if (client == Py_None || ((PyTuple_CheckExact(client) || PyList_CheckExact(client)) && !PySequence_Fast_GET_SIZE(client)))
        r = write_value(b, Py_None, 1);
    else if (PyTuple_CheckExact(client) || PyList_CheckExact(client)) {
        Py_ssize_t n = PySequence_Fast_GET_SIZE(client);
        if (!(r = tuple_header(b, n)))
            r = write_items(b, PySequence_Fast_ITEMS(client), n, 2);
    }
    else
        r = UNSUPPORTED;
    if (r || (r = write_value(b, fields[T_SOURCE], 1)) || (r = write_value(b, fields[T_REPLAY_OF], 1)))
        return r;
    for (int i = T_REQUEST; i <= T_RESPONSE; i++) {
        if (Py_TYPE(fields[i]) != self->message_type)
            return UNSUPPORTED;
        if ((r = write_slots(b, fields[i], self->message_at, M_COUNT)))
            return r;
    }
    PyObject *spans = fields[T_SPANS];
    if (!PyList_CheckExact(spans) || (r = reserve(b, 5)))
        return r ? r : UNSUPPORTED;
    Py_ssize_t n = PyList_GET_SIZE(spans);
    b->data[b->size] = '[';
    put_u32(b->data + b->size + 1, (uint32_t)n);
    b->size += 5;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *span = PyList_GET_ITEM(spans, i);
        if (Py_TYPE(span) != self->span_type)
            return UNSUPPORTED;
        if ((r = write_slots(b, span, self->span_at, S_COUNT)))
            return r;
    }
    return PyList_GET_SIZE(spans) == n ? 0 : UNSUPPORTED;
}

/* Encoder(traces) -> the frame (a 4-byte big-endian length, then the payload), or None. */
static PyObject *
encode(Encoder *self, PyObject *traces)
{
    if (!PyList_CheckExact(traces) || PyList_GET_SIZE(traces) > INT32_MAX)
        Py_RETURN_NONE;
    Buf b = {.size = 4, .cap = 4 + self->limit < 4096 ? 4 + self->limit : 4096, .limit = 4 + self->limit};
    if ((b.data = PyMem_Malloc(b.cap)) == NULL)
        return PyErr_NoMemory();
    Py_ssize_t n = PyList_GET_SIZE(traces);
    int r = reserve(&b, 5);
    if (!r) {
        b.data[b.size] = '[';
        put_u32(b.data + b.size + 1, (uint32_t)n);
        b.size += 5;
        for (Py_ssize_t i = 0; i < n && !r; i++)
            r = write_trace(self, &b, PyList_GET_ITEM(traces, i));
    }
    PyObject *frame = NULL;
    if (r == 0 && PyList_GET_SIZE(traces) == n) {
        uint32_t length = (uint32_t)(b.size - 4);
        b.data[0] = (char)(length >> 24);
        b.data[1] = (char)((length >> 16) & 0xff);
        b.data[2] = (char)((length >> 8) & 0xff);
        b.data[3] = (char)(length & 0xff);
        frame = PyBytes_FromStringAndSize(b.data, b.size);
    }
    else if (r >= 0) {
        frame = Py_NewRef(Py_None);
    }
    PyMem_Free(b.data);
    return frame;
}

static PyObject *
Encoder_vectorcall(PyObject *op, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    if (PyVectorcall_NARGS(nargsf) != 1 || (kwnames != NULL && PyTuple_GET_SIZE(kwnames))) {
        PyErr_SetString(PyExc_TypeError, "Encoder() takes one argument: a list of traces");
        return NULL;
    }
    return encode((Encoder *)op, args[0]);
}

static PyObject *
Encoder_call(PyObject *self, PyObject *args, PyObject *kwargs)
{
    return PyVectorcall_Call(self, args, kwargs);
}

/* The offsets of `names` among `type`'s __slots__. */
static int
offsets(PyTypeObject *type, const char **names, Py_ssize_t count, Py_ssize_t *at)
{
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *descr = PyDict_GetItemString(type->tp_dict, names[i]);
        if (descr == NULL || !Py_IS_TYPE(descr, &PyMemberDescr_Type) ||
            ((PyMemberDescrObject *)descr)->d_member->type != T_OBJECT_EX) {
            PyErr_Format(PyExc_TypeError, "%s.%s is not a slot", type->tp_name, names[i]);
            return -1;
        }
        at[i] = ((PyMemberDescrObject *)descr)->d_member->offset;
    }
    return 0;
}

static PyObject *
Encoder_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyTypeObject *trace_type, *message_type, *span_type;
    long version;
    Py_ssize_t limit;
    if (!PyArg_ParseTuple(args, "O!O!O!ln:Encoder", &PyType_Type, &trace_type, &PyType_Type, &message_type,
                          &PyType_Type, &span_type, &version, &limit))
        return NULL;
    if (version < 0 || version > INT32_MAX || limit < 0 || limit > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "version and limit must fit 31 bits");
        return NULL;
    }
    Encoder *self = (Encoder *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    if (offsets(trace_type, TRACE_FIELDS, T_COUNT, self->trace_at) < 0 ||
        offsets(message_type, MESSAGE_FIELDS, M_COUNT, self->message_at) < 0 ||
        offsets(span_type, SPAN_FIELDS, S_COUNT, self->span_at) < 0) {
        Py_DECREF(self);
        return NULL;
    }
    self->trace_type = (PyTypeObject *)Py_NewRef(trace_type);
    self->message_type = (PyTypeObject *)Py_NewRef(message_type);
    self->span_type = (PyTypeObject *)Py_NewRef(span_type);
    self->version = version;
    self->limit = limit;
    self->vectorcall = Encoder_vectorcall;
    return (PyObject *)self;
}

static void
Encoder_dealloc(Encoder *self)
{
    Py_CLEAR(self->trace_type);
    Py_CLEAR(self->message_type);
    Py_CLEAR(self->span_type);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject EncoderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "engine._fastwire.Encoder",
    .tp_doc = PyDoc_STR("Encoder(Trace, Message, Span, version, limit)(traces) -> frame bytes, or None"),
    .tp_basicsize = sizeof(Encoder),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_vectorcall_offset = offsetof(Encoder, vectorcall),
    .tp_new = Encoder_new,
    .tp_call = Encoder_call,
    .tp_dealloc = (destructor)Encoder_dealloc,
};

static struct PyModuleDef fastwire_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "engine._fastwire",
    .m_doc = "A turn's traces as one log frame, in C (see engine/feed.py).",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__fastwire(void)
{
    if (PyType_Ready(&EncoderType) < 0)
        return NULL;
    PyObject *module = PyModule_Create(&fastwire_module);
    if (module == NULL)
        return NULL;
    if (PyModule_AddObjectRef(module, "Encoder", (PyObject *)&EncoderType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
