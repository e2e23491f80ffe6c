"""mnist_pl: train, test and inspect CNN classifiers for MNIST with PyTorch Lightning."""
