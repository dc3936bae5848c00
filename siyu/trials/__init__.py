"""Product trials (商品试用): campaigns, applications, an auditable draw, shipping and trial reports."""
