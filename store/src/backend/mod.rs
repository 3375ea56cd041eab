pub mod fs;
pub mod s3;
