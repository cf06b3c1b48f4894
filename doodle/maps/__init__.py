"""Maps and masks: colour-coded maps read as region masks, random maps to train on, palettes to paint with."""
