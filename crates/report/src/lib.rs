//! tokenfab-report
