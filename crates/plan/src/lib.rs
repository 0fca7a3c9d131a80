//! tokenfab-plan
