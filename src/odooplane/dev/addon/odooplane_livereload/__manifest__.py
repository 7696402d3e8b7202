{
    "name": "odooplane live reload (development only)",
    "summary": "Reloads open tabs, or swaps their stylesheets, when odooplane dev sees a change.",
    "version": "1.0.0",
    "category": "Hidden",
    "license": "LGPL-3",
    "depends": ["web"],
    "data": [],
    "assets": {
        "web.assets_backend": ["odooplane_livereload/static/src/livereload.js"],
        "web.assets_frontend": ["odooplane_livereload/static/src/livereload.js"],
    },
    "installable": True,
    "auto_install": False,
}
