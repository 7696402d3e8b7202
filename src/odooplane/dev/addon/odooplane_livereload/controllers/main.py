import json
import os

from odoo import http


class LiveReloadConfig(http.Controller):
    # The dev session gives each Odoo it starts the address of its event stream; outside
    # `odooplane dev` the variable is absent and the script stays idle.
    @http.route("/odooplane_livereload/config", type="http", auth="none", methods=["GET"], csrf=False)
    def config(self):
        body = json.dumps({"url": os.environ.get("ODOOPLANE_LIVERELOAD_URL") or None})
        return http.Response(body, headers=[("Content-Type", "application/json"), ("Cache-Control", "no-store")])
