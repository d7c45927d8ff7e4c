use super::agent_client::client;
use crate::ipc::protocol::{Request, Response};
use crate::paths::Home;

pub async fn run(home: &Home) -> anyhow::Result<()> {
    match client(home).call(&Request::Verify).await? {
        Response::Verified {
            environments,
            values,
        } => {
            println!(
                "vault intact: {values} values in {environments} environments decrypt and match their places"
            );
            Ok(())
        }
        _ => Err(super::agent_client::unexpected()),
    }
}
