"""Training pruned binary ResNet-18s from scratch, integer inference mode, and export to archsim workloads."""
