from gradcli.cli.group import main

main()
