/* engine._fastmatch: Matcher.match in C, for the paths that need no decoding.
 *
 * An optional accelerator. engine/matcher.py is the definition of matching and works
 * alone; this module repeats its `Matcher.match` step for step (the static dict, the
 * greedy walk, `_find`, `_Leaf.params`) over a mirror of the tree made of tuples and
 * dicts (`Matcher._mirror`), and hands every path that needs care (an unknown method,
 * "%", a dot segment, "//", a backslash, a trailing slash) to the Python
 * `Matcher._match_carefully`, as the Python code does. The property tests check the two
 * against each other and against a brute-force reference on random routes and paths.
 *
 * Why: a lookup in Python pays ~0.45 us before it finds anything (a call, a split, a
 * Match built with tuple.__new__); here a dynamic hit costs about a third of that.
 * Built by setup.py when a C compiler is there; without one the Python matcher serves.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>

/* The mirror's layout, fixed by Matcher._mirror in matcher.py. */
enum { N_STATIC, N_FEW, N_PARAM, N_END, N_TAIL, N_BACKTRACK, N_CATCHALL, N_OPTIONAL, N_LEAF, N_SIZE };
enum { L_STATUSES, L_PATTERN, L_FILE, L_ALLOW, L_ROUTE, L_NAME, L_POSITION, L_PLAIN, L_DYNAMIC, L_SIZE };
/* A dynamic entry is (position, code, name); the codes say how to read the value. */
enum { D_PARAM, D_CATCHALL, D_SPLAT, D_OPTIONAL };

/* Deeper paths go the Python way: still right, a little slower. */
#define MAX_SEGMENTS 48

#define ITEM PyTuple_GET_ITEM

typedef struct {
    PyObject_HEAD
    PyObject *root;          /* node tuple */
    PyObject *statics;       /* dict: whole raw path -> leaf tuple of an all-static route */
    PyTypeObject *match_type;/* engine.matcher.Match, a tuple subclass */
    PyObject *known;         /* frozenset of the methods the engine implements */
    PyObject *careful;       /* Matcher._match_carefully(method, path) */
    PyObject *fallback;      /* Matcher.match(method, path): for paths deeper than MAX_SEGMENTS */
    PyObject *empty_tuple;
    PyObject *status_404;
    PyObject *slash;         /* "/" */
    vectorcallfunc vectorcall;
} Lookup;

static PyObject *
new_match(Lookup *self, PyObject *status, PyObject *pattern, PyObject *file, PyObject *params,
          PyObject *allow, PyObject *route)
{
    /* `params` is stolen; the rest are borrowed. As tuple.__new__(Match, ...) builds it. */
    PyObject *m = self->match_type->tp_alloc(self->match_type, 7);
    if (m == NULL) {
        Py_DECREF(params);
        return NULL;
    }
    Py_INCREF(status);
    PyTuple_SET_ITEM(m, 0, status);
    Py_INCREF(pattern);
    PyTuple_SET_ITEM(m, 1, pattern);
    Py_INCREF(file);
    PyTuple_SET_ITEM(m, 2, file);
    PyTuple_SET_ITEM(m, 3, params);
    Py_INCREF(allow);
    PyTuple_SET_ITEM(m, 4, allow);
    Py_INCREF(route);
    PyTuple_SET_ITEM(m, 5, route);
    Py_INCREF(Py_None);
    PyTuple_SET_ITEM(m, 6, Py_None);
    return m;
}

static PyObject *
answer(Lookup *self, PyObject *leaf, PyObject *status, PyObject *params)
{
    return new_match(self, status, ITEM(leaf, L_PATTERN), ITEM(leaf, L_FILE), params, ITEM(leaf, L_ALLOW),
                     ITEM(leaf, L_ROUTE));
}

static PyObject *
not_found(Lookup *self)
{
    PyObject *params = PyDict_New();
    if (params == NULL)
        return NULL;
    return new_match(self, self->status_404, Py_None, Py_None, params, self->empty_tuple, Py_None);
}

/* The path's segments, path.split("/")[1:], as offsets; a segment becomes a str only when
 * a dict lookup or a param needs one. */
typedef struct {
    PyObject *path;
    int kind;
    const void *data;
    Py_ssize_t n;
    int care; /* "%", "\\", "/.", "//" or a trailing "/": the Python code's careful way */
    Py_ssize_t start[MAX_SEGMENTS + 1];
    PyObject *text[MAX_SEGMENTS];
} Segments;

/* Split; 0, or -1 when the path is deeper than MAX_SEGMENTS. */
static int
split(Segments *s, PyObject *path)
{
    Py_ssize_t length = PyUnicode_GET_LENGTH(path);
    int kind = PyUnicode_KIND(path);
    const void *data = PyUnicode_DATA(path);
    Py_UCS4 previous = 0;
    s->path = path;
    s->kind = kind;
    s->data = data;
    s->n = 0;
    s->care = 0;
    for (Py_ssize_t i = 0; i < length; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c == '/') {
            if (s->n == MAX_SEGMENTS)
                return -1;
            s->start[s->n] = i + 1;
            s->text[s->n] = NULL;
            s->n++;
            if (previous == '/')
                s->care = 1;
        }
        else if (c == '%' || c == '\\' || (c == '.' && previous == '/'))
            s->care = 1;
        previous = c;
    }
    s->start[s->n] = length + 1; /* segment i ends one before start[i + 1] */
    if (previous == '/')
        s->care = 1;
    return 0;
}

static void
release(Segments *s)
{
    for (Py_ssize_t i = 0; i < s->n; i++)
        Py_XDECREF(s->text[i]);
}

static inline Py_ssize_t
seg_length(Segments *s, Py_ssize_t i)
{
    return s->start[i + 1] - 1 - s->start[i];
}

/* Segment i as a str (borrowed from the array), or NULL with an exception. */
static PyObject *
seg_text(Segments *s, Py_ssize_t i)
{
    if (s->text[i] == NULL)
        s->text[i] = PyUnicode_Substring(s->path, s->start[i], s->start[i + 1] - 1);
    return s->text[i];
}

/* node.static.get(segment i): borrowed, or NULL (with *error set on an exception). A node
 * with a few static children lists them as (name, child) pairs, compared without making the
 * segment a str or hashing it. */
static PyObject *
static_child(PyObject *node, Segments *s, Py_ssize_t i, int *error)
{
    PyObject *few = ITEM(node, N_FEW);
    if (few != Py_None && s->kind == PyUnicode_1BYTE_KIND) {
        Py_ssize_t length = seg_length(s, i);
        const char *at = (const char *)s->data + s->start[i];
        for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(few); k++) {
            PyObject *pair = ITEM(few, k);
            PyObject *name = ITEM(pair, 0);
            if (PyUnicode_GET_LENGTH(name) == length && PyUnicode_KIND(name) == PyUnicode_1BYTE_KIND &&
                memcmp(PyUnicode_DATA(name), at, length) == 0)
                return ITEM(pair, 1);
        }
        return NULL;
    }
    PyObject *text = seg_text(s, i);
    if (text == NULL) {
        *error = 1;
        return NULL;
    }
    PyObject *child = PyDict_GetItemWithError(ITEM(node, N_STATIC), text);
    if (child == NULL && PyErr_Occurred())
        *error = 1;
    return child;
}

/* str.isalnum() of segment i: non-empty, every character a letter or a digit. */
static int
is_alnum(Segments *s, Py_ssize_t i)
{
    Py_ssize_t from = s->start[i], to = s->start[i + 1] - 1;
    if (from == to)
        return 0;
    for (Py_ssize_t k = from; k < to; k++) {
        Py_UCS4 c = PyUnicode_READ(s->kind, s->data, k);
        if (c < 128 ? !Py_ISALNUM(c) : !Py_UNICODE_ISALNUM(c))
            return 0;
    }
    return 1;
}

/* _find(): the full search, the first route in priority order, backing up out of dead
 * ends. Returns a borrowed leaf tuple, or NULL when nothing matches (or on an exception,
 * with *error set). */
static PyObject *
find(PyObject *node, Segments *s, Py_ssize_t i, int *error)
{
    while (i < s->n) {
        PyObject *child = static_child(node, s, i, error);
        if (*error)
            return NULL;
        PyObject *param = seg_length(s, i) ? ITEM(node, N_PARAM) : Py_None;
        int tails = ITEM(node, N_CATCHALL) != Py_None || ITEM(node, N_OPTIONAL) != Py_None;
        if (child != NULL) {
            if (param == Py_None && !tails) {
                node = child;
                i++;
                continue;
            }
            PyObject *found = find(child, s, i + 1, error);
            if (found != NULL || *error)
                return found;
        }
        if (param != Py_None) {
            if (!tails) {
                node = param;
                i++;
                continue;
            }
            PyObject *found = find(param, s, i + 1, error);
            if (found != NULL || *error)
                return found;
        }
        if (ITEM(node, N_CATCHALL) != Py_None)
            return ITEM(node, N_CATCHALL);
        return ITEM(node, N_OPTIONAL) != Py_None ? ITEM(node, N_OPTIONAL) : NULL;
    }
    if (ITEM(node, N_LEAF) != Py_None)
        return ITEM(node, N_LEAF);
    return ITEM(node, N_OPTIONAL) != Py_None ? ITEM(node, N_OPTIONAL) : NULL;
}

/* segments[from:] as a new list. */
static PyObject *
rest_list(Segments *s, Py_ssize_t from)
{
    Py_ssize_t size = s->n > from ? s->n - from : 0;
    PyObject *list = PyList_New(size);
    if (list == NULL)
        return NULL;
    for (Py_ssize_t j = 0; j < size; j++) {
        PyObject *text = seg_text(s, from + j);
        if (text == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        Py_INCREF(text);
        PyList_SET_ITEM(list, j, text);
    }
    return list;
}

/* _Leaf.params(): a new dict. */
static PyObject *
leaf_params(Lookup *self, PyObject *leaf, Segments *s)
{
    PyObject *params = PyDict_New();
    if (params == NULL)
        return NULL;
    PyObject *dynamic = ITEM(leaf, L_DYNAMIC);
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(dynamic); k++) {
        PyObject *entry = ITEM(dynamic, k);
        Py_ssize_t position = PyLong_AsSsize_t(ITEM(entry, 0));
        long code = PyLong_AsLong(ITEM(entry, 1));
        PyObject *name = ITEM(entry, 2);
        PyObject *value;
        if (code == D_PARAM) {
            value = seg_text(s, position);
            Py_XINCREF(value);
        }
        else {
            value = rest_list(s, position);
            if (value != NULL && code == D_SPLAT) {
                PyObject *joined = PyUnicode_Join(self->slash, value);
                Py_DECREF(value);
                value = joined;
            }
            else if (value != NULL && code == D_OPTIONAL && PyList_GET_SIZE(value) == 0) {
                Py_DECREF(value);
                continue; /* an optional catch-all that took nothing is absent */
            }
        }
        if (value == NULL || PyDict_SetItem(params, name, value) < 0) {
            Py_XDECREF(value);
            Py_DECREF(params);
            return NULL;
        }
        Py_DECREF(value);
    }
    return params;
}

/* The greedy walk's answer, when it can give one for sure (see Matcher.match): a new
 * Match, or NULL with *error clear when the rest of lookup() must decide. */
static PyObject *
greedy_answer(Lookup *self, PyObject *leaf, PyObject *method, Segments *s, int *error)
{
    PyObject *status = PyDict_GetItemWithError(ITEM(leaf, L_STATUSES), method);
    if (status == NULL) {
        *error = PyErr_Occurred() != NULL;
        return NULL;
    }
    PyObject *name = ITEM(leaf, L_NAME);
    PyObject *plain = ITEM(leaf, L_PLAIN);
    PyObject *params;
    if (name != Py_None) {
        Py_ssize_t position = PyLong_AsSsize_t(ITEM(leaf, L_POSITION));
        if (!is_alnum(s, position))
            return NULL;
        PyObject *value = seg_text(s, position);
        if (value == NULL || (params = PyDict_New()) == NULL) {
            *error = 1;
            return NULL;
        }
        if (PyDict_SetItem(params, name, value) < 0) {
            Py_DECREF(params);
            *error = 1;
            return NULL;
        }
        return answer(self, leaf, status, params);
    }
    if (PyTuple_GET_SIZE(plain) == 0)
        return NULL;
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(plain); k++) {
        if (!is_alnum(s, PyLong_AsSsize_t(ITEM(ITEM(plain, k), 0))))
            return NULL;
    }
    if ((params = PyDict_New()) == NULL) {
        *error = 1;
        return NULL;
    }
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(plain); k++) {
        PyObject *pair = ITEM(plain, k);
        PyObject *value = seg_text(s, PyLong_AsSsize_t(ITEM(pair, 0)));
        if (value == NULL || PyDict_SetItem(params, ITEM(pair, 1), value) < 0) {
            Py_DECREF(params);
            *error = 1;
            return NULL;
        }
    }
    return answer(self, leaf, status, params);
}

static PyObject *
lookup(Lookup *self, PyObject *method, PyObject *path)
{
    PyObject *leaf = PyDict_GetItemWithError(self->statics, path);
    if (leaf != NULL) {
        PyObject *status = PyDict_GetItemWithError(ITEM(leaf, L_STATUSES), method);
        if (status != NULL) {
            PyObject *params = PyDict_New();
            return params == NULL ? NULL : answer(self, leaf, status, params);
        }
        if (PyErr_Occurred())
            return NULL;
        return PyObject_CallFunctionObjArgs(self->careful, method, path, NULL);
    }
    if (PyErr_Occurred())
        return NULL;

    Segments s;
    if (split(&s, path) < 0) /* deeper than any route here: the Python code answers */
        return PyObject_CallFunctionObjArgs(self->fallback, method, path, NULL);

    /* The greedy walk: static child, else param child, else the node's tail. */
    PyObject *result = NULL;
    int error = 0;
    PyObject *node = self->root;
    Py_ssize_t i;
    for (i = 0; i < s.n; i++) {
        PyObject *child = static_child(node, &s, i, &error);
        if (error)
            goto done;
        if (child == NULL) {
            child = ITEM(node, N_PARAM);
            if (child == Py_None)
                break;
        }
        node = child;
    }
    leaf = i == s.n ? ITEM(node, N_END) : ITEM(node, N_TAIL);
    if (leaf != Py_None) {
        result = greedy_answer(self, leaf, method, &s, &error);
        if (result != NULL || error)
            goto done;
    }
    int known = PySet_Contains(self->known, method);
    if (known < 0)
        goto done;
    if (!known || s.care) {
        result = PyObject_CallFunctionObjArgs(self->careful, method, path, NULL);
        goto done;
    }
    /* A plain path: its raw segments are its segments. When the walk dead-ended, the full
     * search backs up from where it went wrong. */
    if (leaf == Py_None) {
        if (ITEM(node, N_BACKTRACK) != Py_True || (leaf = find(self->root, &s, 0, &error)) == NULL) {
            if (!error)
                result = not_found(self);
            goto done;
        }
    }
    PyObject *status = PyDict_GetItemWithError(ITEM(leaf, L_STATUSES), method);
    if (status == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetObject(PyExc_KeyError, method);
        goto done;
    }
    PyObject *params = PyTuple_GET_SIZE(ITEM(leaf, L_DYNAMIC)) ? leaf_params(self, leaf, &s) : PyDict_New();
    result = params == NULL ? NULL : answer(self, leaf, status, params);
done:
    release(&s);
    return result;
}

static PyObject *
Lookup_vectorcall(PyObject *op, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (nargs != 2 || (kwnames != NULL && PyTuple_GET_SIZE(kwnames))) {
        PyErr_SetString(PyExc_TypeError, "match() takes exactly two arguments: method and path");
        return NULL;
    }
    Lookup *self = (Lookup *)op;
    if (!PyUnicode_CheckExact(args[0]) || !PyUnicode_CheckExact(args[1]))  /* str subclasses and the rest */
        return PyObject_CallFunctionObjArgs(self->fallback, args[0], args[1], NULL);
    if (PyUnicode_READY(args[1]) < 0)  /* 3.11: a legacy str made by old C APIs has no data yet */
        return NULL;
    return lookup(self, args[0], args[1]);
}

static int
check_node(PyObject *node)
{
    if (!PyTuple_CheckExact(node) || PyTuple_GET_SIZE(node) != N_SIZE) {
        PyErr_SetString(PyExc_TypeError, "a node must be a tuple of 9");
        return -1;
    }
    return 0;
}

static PyObject *
Lookup_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *root, *statics, *match_type, *known, *careful, *fallback;
    if (!PyArg_ParseTuple(args, "OO!OO!OO:Lookup", &root, &PyDict_Type, &statics, &match_type, &PyFrozenSet_Type,
                          &known, &careful, &fallback))
        return NULL;
    if (check_node(root) < 0)
        return NULL;
    if (!PyType_Check(match_type) || !PyType_IsSubtype((PyTypeObject *)match_type, &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "match_type must be a tuple subclass");
        return NULL;
    }
    Lookup *self = (Lookup *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->status_404 = PyLong_FromLong(404);
    self->empty_tuple = PyTuple_New(0);
    self->slash = PyUnicode_FromString("/");
    if (self->status_404 == NULL || self->empty_tuple == NULL || self->slash == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    self->root = Py_NewRef(root);
    self->statics = Py_NewRef(statics);
    self->match_type = (PyTypeObject *)Py_NewRef(match_type);
    self->known = Py_NewRef(known);
    self->careful = Py_NewRef(careful);
    self->fallback = Py_NewRef(fallback);
    self->vectorcall = Lookup_vectorcall;
    return (PyObject *)self;
}

static int
Lookup_traverse(Lookup *self, visitproc visit, void *arg)
{
    Py_VISIT(self->root);
    Py_VISIT(self->statics);
    Py_VISIT(self->match_type);
    Py_VISIT(self->known);
    Py_VISIT(self->careful);
    Py_VISIT(self->fallback);
    return 0;
}

static int
Lookup_clear(Lookup *self)
{
    Py_CLEAR(self->root);
    Py_CLEAR(self->statics);
    Py_CLEAR(self->match_type);
    Py_CLEAR(self->known);
    Py_CLEAR(self->careful);
    Py_CLEAR(self->fallback);
    return 0;
}

static void
Lookup_dealloc(Lookup *self)
{
    PyObject_GC_UnTrack(self);
    Lookup_clear(self);
    Py_CLEAR(self->empty_tuple);
    Py_CLEAR(self->status_404);
    Py_CLEAR(self->slash);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
Lookup_call(PyObject *self, PyObject *args, PyObject *kwargs)
{
    return PyVectorcall_Call(self, args, kwargs);
}

static PyTypeObject LookupType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "engine._fastmatch.Lookup",
    .tp_doc = PyDoc_STR("Lookup(root, statics, Match, known_methods, careful, fallback)(method, path) -> Match"),
    .tp_basicsize = sizeof(Lookup),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_vectorcall_offset = offsetof(Lookup, vectorcall),
    .tp_new = Lookup_new,
    .tp_call = Lookup_call,
    .tp_traverse = (traverseproc)Lookup_traverse,
    .tp_clear = (inquiry)Lookup_clear,
    .tp_dealloc = (destructor)Lookup_dealloc,
};

static struct PyModuleDef fastmatch_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "engine._fastmatch",
    .m_doc = "Matcher.match in C for paths that need no decoding (see engine/matcher.py).",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__fastmatch(void)
{
    if (PyType_Ready(&LookupType) < 0)
        return NULL;
    PyObject *module = PyModule_Create(&fastmatch_module);
    if (module == NULL)
        return NULL;
    if (PyModule_AddObjectRef(module, "Lookup", (PyObject *)&LookupType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
