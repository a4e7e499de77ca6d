"""The demo's own helpers: imported by routes, never routed (a private `_` folder)."""
