//! tokenfab-sim
