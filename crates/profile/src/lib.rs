//! tokenfab-profile
