//! Sending one outbox message to one destination. HTTP goes through hyper with rustls (the TLS stack
//! the AWS SDK already links, with the system's roots), on a private current-thread runtime: the
//! dispatcher is called from plain threads, like the store. Any answer but 2xx, a timeout or a
//! connection error is a failure the outbox retries; the error names the destination's kind and the
//! status, never the URL (a Slack webhook URL is a secret). SNS goes through aws-sdk-sns with the
//! command's AWS settings; its client is made on the first SNS message, so runs without one never
//! look for credentials.

use std::io::Write;
use std::time::Duration;

use anyhow::{bail, Context};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::config::{topic_region, Destination, Target};
use super::{render, sign};
use crate::aws::AwsTarget;
use crate::store::alerting::OutboxMessage;

/// How long one HTTP delivery may take, connection included.
const HTTP_TIMEOUT: Duration = Duration::from_secs(15);

type Https = hyper_rustls::HttpsConnector<HttpConnector>;

/// SNS subjects are at most 100 characters, without line breaks.
const SNS_SUBJECT_MAX: usize = 100;

pub struct Sender {
    runtime: tokio::runtime::Runtime,
    client: Client<Https, Full<Bytes>>,
    aws: AwsTarget,
    /// The SDK configuration, loaded on the first SNS message.
    aws_config: std::sync::OnceLock<aws_config::SdkConfig>,
}

impl Sender {
    pub fn new(aws: AwsTarget) -> anyhow::Result<Sender> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the alert sender")?;
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .context("cannot load the system's TLS roots")?
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new()).build(https);
        Ok(Sender {
            runtime,
            client,
            aws,
            aws_config: std::sync::OnceLock::new(),
        })
    }

    pub fn send(&self, destination: &Destination, message: &OutboxMessage) -> anyhow::Result<()> {
        match &destination.target {
            Target::Slack { url } => {
                let body = serde_json::to_vec(&render::slack_body(message)?)?;
                self.post(url, body, Vec::new()).context("slack")
            }
            Target::Webhook { url, secret } => {
                let body = render::webhook_body(message)?;
                let mut headers = vec![
                    (sign::DELIVERY_HEADER, delivery_id(destination, message)),
                    ("x-trailguard-kind", message.kind.clone()),
                ];
                if let Some(secret) = secret {
                    let now = chrono::Utc::now().timestamp();
                    headers.push((
                        sign::SIGNATURE_HEADER,
                        sign::sign(secret.as_bytes(), now, &body),
                    ));
                }
                self.post(url, body, headers).context("webhook")
            }
            Target::Sns { topic_arn } => {
                self.publish(topic_arn, destination, message).context("sns")
            }
            Target::File { path } => {
                let line = render::file_line(message)?;
                let mut file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .with_context(|| format!("cannot open alert file `{}`", path.display()))?;
                // One write per line, so concurrent writers appending to one file do not interleave.
                file.write_all(format!("{line}\n").as_bytes())
                    .with_context(|| format!("cannot write alert file `{}`", path.display()))
            }
        }
    }

    /// Publishes the webhook's JSON body to the topic, with the kind and delivery id as message
    /// attributes (a FIFO topic also dedupes on the delivery id).
    fn publish(
        &self,
        topic_arn: &str,
        destination: &Destination,
        message: &OutboxMessage,
    ) -> anyhow::Result<()> {
        use aws_sdk_sns::types::MessageAttributeValue;
        let body = String::from_utf8(render::webhook_body(message)?)?;
        let config = self
            .aws_config
            .get_or_init(|| self.runtime.block_on(self.aws.config(3)));
        let mut sns = aws_sdk_sns::config::Builder::from(config);
        // The topic's region unless --region names one: a topic is reachable only in its own.
        if self.aws.region.is_none() {
            if let Some(region) = topic_region(topic_arn) {
                sns = sns.region(aws_config::Region::new(region.to_owned()));
            }
        }
        let client = aws_sdk_sns::Client::from_conf(sns.build());
        let delivery = delivery_id(destination, message);
        let attribute = |value: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
        };
        let mut call = client
            .publish()
            .topic_arn(topic_arn)
            .subject(render::subject(message, SNS_SUBJECT_MAX)?)
            .message(body)
            .message_attributes("trailguard_kind", attribute(&message.kind)?)
            .message_attributes("trailguard_delivery", attribute(&delivery)?);
        if topic_arn.ends_with(".fifo") {
            call = call
                .message_group_id("trailguard")
                .message_deduplication_id(&delivery);
        }
        self.runtime
            .block_on(call.send())
            .map_err(|e| anyhow::anyhow!("{}", crate::fix::aws::api_error("Publish", &e)))?;
        Ok(())
    }

    fn post(&self, url: &str, body: Vec<u8>, headers: Vec<(&str, String)>) -> anyhow::Result<()> {
        let mut request = http::Request::post(url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(
                http::header::USER_AGENT,
                concat!("trailguard/", env!("CARGO_PKG_VERSION")),
            );
        for (name, value) in headers {
            request = request.header(name, value);
        }
        // The URL is not echoed in errors: it may carry a token.
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|_| anyhow::anyhow!("the destination URL is not valid"))?;
        self.runtime.block_on(async {
            let response = tokio::time::timeout(HTTP_TIMEOUT, self.client.request(request))
                .await
                .map_err(|_| anyhow::anyhow!("no answer within {} s", HTTP_TIMEOUT.as_secs()))?
                .map_err(|e| anyhow::anyhow!("request failed: {}", error_chain(&e)))?;
            let status = response.status();
            // Read the answer so the connection can be reused; its text is not trusted or shown.
            let _ = tokio::time::timeout(HTTP_TIMEOUT, response.into_body().collect()).await;
            if !status.is_success() {
                bail!("answered HTTP {}", status.as_u16());
            }
            Ok(())
        })
    }
}

/// The id a receiver dedupes on: the same for every retry of one message at one destination.
pub fn delivery_id(destination: &Destination, message: &OutboxMessage) -> String {
    trailguard_rules::Finding::stable_id(&["delivery", &destination.name, &message.dedup_key])
}

/// An error and its causes on one line, without a URL (hyper's connect errors do not include it).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(&format!(": {inner}"));
        cause = inner.source();
    }
    text
}
