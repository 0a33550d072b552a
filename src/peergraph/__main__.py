from peergraph.cli.main import main

main()
