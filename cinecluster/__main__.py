from cinecluster.cli import main

main()
