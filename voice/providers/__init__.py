"""Speech and language providers behind small interfaces; `factory` picks them from settings."""
