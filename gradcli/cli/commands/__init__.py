"""One module per family of commands; `gradcli.cli.group` registers them."""
