//! Chatwoot's application API as the agent bot uses it: posting a reply and opening a
//! conversation for the agents, with the agent bot's access token.

use super::config::ChatwootConfig;
use super::webhook::http_agent;
use serde_json::{json, Value};

/// Talks to Chatwoot's application API with the agent bot's token.
pub(super) struct Client {
    config: ChatwootConfig,
    /// Why there is none: `chatwoot.ca_file` could not be used (every call fails with it).
    agent: Result<ureq::Agent, String>,
}

impl Client {
    /// A client with `config`. A `ca_file` that cannot be used (which
    /// [`Settings::validate`](super::Settings::validate) reports at start) is logged, and
    /// every call fails with the reason rather than trusting other roots than configured.
    pub fn new(config: ChatwootConfig) -> Client {
        let agent = http_agent(
            config.timeout_secs,
            config.ca_file.as_deref(),
            "chatwoot.ca_file",
        );
        if let Err(error) = &agent {
            tracing::error!(%error, "Chatwoot's API cannot be called");
        }
        Client { agent, config }
    }

    pub fn config(&self) -> &ChatwootConfig {
        &self.config
    }

    fn conversation_url(&self, target: &Target, what: &str) -> String {
        format!(
            "{}/api/v1/accounts/{}/conversations/{}/{what}",
            self.config.base_url, target.account, target.conversation
        )
    }

    fn post(&self, url: &str, body: Value) -> Result<(), String> {
        let agent = self.agent.as_ref().map_err(|e| format!("{url}: {e}"))?;
        let result = agent
            .post(url)
            .set("api_access_token", &self.config.api_token)
            .send_json(body);
        match result {
            Ok(resp) if (200..300).contains(&resp.status()) => Ok(()),
            Ok(resp) => Err(format!("{url}: HTTP {}", resp.status())),
            Err(ureq::Error::Status(code, resp)) => {
                let detail: String = resp
                    .into_string()
                    .unwrap_or_default()
                    .chars()
                    .take(200)
                    .collect();
                Err(format!("{url}: HTTP {code} {}", detail.trim()))
            }
            Err(ureq::Error::Transport(t)) => Err(format!("{url}: {t}")),
        }
    }

    /// Posts a public outgoing message in the conversation.
    pub fn send_message(&self, target: &Target, content: &str) -> Result<(), String> {
        let url = self.conversation_url(target, "messages");
        self.post(
            &url,
            json!({ "content": content, "message_type": "outgoing", "private": false }),
        )
    }

    /// Opens the conversation: it leaves the bot for the agents' queue.
    pub fn open(&self, target: &Target) -> Result<(), String> {
        let url = self.conversation_url(target, "toggle_status");
        self.post(&url, json!({ "status": "open" }))
    }
}

/// The Chatwoot conversation a message belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Target {
    account: String,
    conversation: String,
}

impl Target {
    /// The conversation `conversation` of the account `account`, both ids of digits only.
    pub fn new(account: String, conversation: String) -> Target {
        Target {
            account,
            conversation,
        }
    }

    /// The account id.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The conversation id within the account.
    pub fn conversation(&self) -> &str {
        &self.conversation
    }
}
