from cnnc.cli import entry

entry()
