//! Correlation ids: one short random id per request ties its log lines, its error and its
//! audit record together, in the agent and in the MCP server alike.

pub fn new_cid() -> String {
    format!("{:08x}", rand::random::<u32>())
}
