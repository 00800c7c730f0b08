//! RabbitMQ: the deployment's topology ([`topology`]) and a self-healing connection that
//! publishes with confirms ([`broker`]).

pub mod broker;
pub mod topology;

pub use broker::{Broker, BrokerOptions, Consumption, HeaderValue, Outgoing, PublishError};
pub use topology::Topology;
