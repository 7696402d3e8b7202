from odoo import fields, models


class Greeting(models.Model):
    _name = "hello.greeting"
    _description = "Greeting"

    name = fields.Char(required=True)
    message = fields.Text()

{constraints}
