from invsteg.cli import main

main()
