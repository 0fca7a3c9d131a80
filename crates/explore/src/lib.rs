//! tokenfab-explore
