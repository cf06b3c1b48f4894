"""The neural loss and the L-BFGS doodle: loss networks (VGG), the per-region style, patch and colour-distribution
losses, the objective they make up, and the optimisation over pixels."""
