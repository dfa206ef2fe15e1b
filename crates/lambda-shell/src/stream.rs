//! The publish function: a batch of the executions table's stream in, the trail's notices and
//! pages out.
//!
//! Lambda hands over the stream's records in order (filtered to INSERTs of trail items; any other
//! record is skipped here too). Each trail record is published by the core's [`ops::publish`], in
//! order, stopping at the first that fails; the answer is Lambda's partial batch response naming
//! that record's `SequenceNumber`, so Lambda checkpoints before it and delivers it and every later
//! record again. A trail record that does not decode (a newer version wrote it) does not hold the
//! shard up: it is logged, and the core publishes a fallback notice built from its keys in its
//! place.

use execution_core::ops::{self, TrailRecord};
use execution_core::ports::{Notifier, Pager};
use serde_json::{json, Value};

/// The trail record one stream record's `dynamodb` part (`Keys`, `NewImage`, `SequenceNumber`)
/// holds, as the table's adapter reads it: `None` for a record that is not a trail item.
pub type TrailDecoder = fn(&Value) -> Option<TrailRecord>;

/// An event that is not a DynamoDB stream batch: the whole batch fails (Lambda retries it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a DynamoDB stream event: {0}")]
pub struct NotAStreamEvent(String);

/// Publishes the trail records of `event` through `notifier`, paging through `pager` (none: no
/// pages); answers the partial batch response (`batchItemFailures` empty when every trail record
/// was published).
pub async fn publish_batch(
    notifier: &dyn Notifier,
    pager: Option<&dyn Pager>,
    decode: TrailDecoder,
    event: &Value,
) -> Result<Value, NotAStreamEvent> {
    let records = event
        .get("Records")
        .and_then(Value::as_array)
        .ok_or_else(|| NotAStreamEvent("no Records list".to_owned()))?;
    let mut sequence_numbers = Vec::new();
    let mut trail = Vec::new();
    for record in records {
        let sequence_number = record["dynamodb"]["SequenceNumber"]
            .as_str()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                NotAStreamEvent(format!(
                    "record {} has no dynamodb.SequenceNumber",
                    record["eventID"]
                ))
            })?;
        if record["eventName"] != "INSERT" {
            continue;
        }
        let Some(read) = decode(&record["dynamodb"]) else {
            continue;
        };
        if let TrailRecord::Unreadable {
            execution_id,
            event_id,
            why,
        } = &read
        {
            tracing::warn!(
                sequence_number,
                execution_id,
                event_id,
                error = why,
                "a trail record does not decode; a fallback notice is published in its place"
            );
        }
        sequence_numbers.push(sequence_number);
        trail.push(read);
    }
    let stopped_at = match ops::publish(notifier, pager, &trail).await {
        Ok(()) => None,
        Err(stopped) => {
            let (execution_id, event_id) = match &trail[stopped.index] {
                TrailRecord::Event(e) => (e.execution_id.to_string(), e.event_id.as_str()),
                TrailRecord::Unreadable {
                    execution_id,
                    event_id,
                    ..
                } => (execution_id.clone(), event_id.as_str()),
            };
            tracing::warn!(
                sequence_number = sequence_numbers[stopped.index],
                execution_id,
                event_id,
                error = %stopped.error,
                "publishing stopped; Lambda delivers this record and the later ones again"
            );
            Some(sequence_numbers[stopped.index])
        }
    };
    let published = stopped_at.map_or(trail.len(), |at| {
        sequence_numbers.iter().take_while(|s| **s != at).count()
    });
    tracing::info!(
        records = records.len(),
        trail_events = trail.len(),
        published,
        retry_from = stopped_at,
        "stream batch"
    );
    let failures: Vec<Value> = stopped_at
        .map(|at| json!({"itemIdentifier": at}))
        .into_iter()
        .collect();
    Ok(json!({"batchItemFailures": failures}))
}

/// Runs the publish function until Lambda stops it: every batch is answered by [`publish_batch`].
pub async fn serve(
    notifier: &dyn Notifier,
    pager: Option<&dyn Pager>,
    decode: TrailDecoder,
) -> Result<(), crate::Error> {
    if pager.is_none() {
        tracing::warn!(
            "no notifications topic: the trail's notices are published, no one is paged"
        );
    }
    crate::run(crate::service_fn(
        move |event: crate::LambdaEvent<Value>| async move {
            publish_batch(notifier, pager, decode, &event.payload)
                .await
                .map_err(crate::Error::from)
        },
    ))
    .await
}

#[cfg(test)]
mod tests;
