{
    "name": "Hello odooplane",
    "summary": "A sample addon created by `odooplane quickstart`: a model, its views and a route.",
    "version": "{series}.1.0.0",
    "author": "odooplane quickstart",
    "license": "LGPL-3",
    "depends": ["base", "web"],
    "data": [
        "security/ir.model.access.csv",
        "views/greeting_views.xml",
    ],
    "installable": True,
    "application": True,
}
