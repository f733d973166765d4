from divelab.cli import command

command()
