"""What is measured on trained networks: features of patches (``features``), the random
forests and their accuracy (``forests``), per-feature statistics of Figs. 6–8
(``analysis``) and the normalization mechanism — offsets and scales between modalities,
the last batch normalization's γ and β (``mechanism``)."""
