from odoo import http


class HelloController(http.Controller):
    @http.route("/hello", type="http", auth="none")
    def hello(self) -> str:
        return "Hello from odooplane"
