//! The worker's intake: the consumer loop that takes each delivery to the handler and
//! acknowledges, retries, dead-letters or parks it ([`consumer`]), and the release of parked
//! alerts once their organization is mapped ([`parking`]).

pub mod consumer;
pub mod parking;
