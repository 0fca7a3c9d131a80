//! tokenfab-workload
