"""One module per family of commands; `gradcli.cli` registers them."""
