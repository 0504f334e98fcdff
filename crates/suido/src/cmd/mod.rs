//! One module per subcommand of the `suido` binary.

pub mod control_plane;
pub mod crds;
pub mod sim;
pub mod sla;
