from mnist_tui.cli.main import entry

if __name__ == "__main__":  # the training process (spawn) imports this module again
    entry()
