from aar.cli import main

main()
