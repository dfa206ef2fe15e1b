//! The publish function: a batch of the executions table's stream in, the trail's notices out.
//!
//! Lambda hands over the stream's records in order (filtered to INSERTs of trail items; any other
//! record is skipped here too). Each trail record's event is published by the core's
//! [`ops::publish`], in order, stopping at the first that fails; the answer is Lambda's partial
//! batch response naming that record's `SequenceNumber`, so Lambda checkpoints before it and
//! delivers it and every later record again. A trail record that does not decode is never
//! dropped: it is logged and named the same way, and stays in the stream until it is published
//! or Lambda gives up on it (then the event source mapping's failure destination keeps it).

use execution_core::audit::AuditEvent;
use execution_core::ops;
use execution_core::ports::{Notifier, StoreError};
use serde_json::{json, Value};

/// The audit event of one record's `dynamodb` part (`Keys`, `NewImage`, `SequenceNumber`), as
/// the table's adapter reads it: `None` for a record that is not a trail item.
pub type TrailDecoder = fn(&Value) -> Option<Result<AuditEvent, StoreError>>;

/// An event that is not a DynamoDB stream batch: the whole batch fails (Lambda retries it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a DynamoDB stream event: {0}")]
pub struct NotAStreamEvent(String);

/// Publishes the trail records of `event` through `notifier`; answers the partial batch
/// response (`batchItemFailures` empty when every trail record was published).
pub async fn publish_batch(
    notifier: &dyn Notifier,
    decode: TrailDecoder,
    event: &Value,
) -> Result<Value, NotAStreamEvent> {
    let records = event
        .get("Records")
        .and_then(Value::as_array)
        .ok_or_else(|| NotAStreamEvent("no Records list".to_owned()))?;
    let mut sequence_numbers = Vec::new();
    let mut events = Vec::new();
    let mut undecodable = None;
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
        match decode(&record["dynamodb"]) {
            None => {}
            Some(Ok(event)) => {
                sequence_numbers.push(sequence_number);
                events.push(event);
            }
            Some(Err(e)) => {
                tracing::error!(
                    sequence_number,
                    event_id = record["eventID"].as_str(),
                    error = %e,
                    "a trail record does not decode; it is reported failed, not dropped"
                );
                undecodable = Some(sequence_number);
                break;
            }
        }
    }
    let stopped_at = match ops::publish(notifier, &events).await {
        Ok(()) => undecodable,
        Err(stopped) => {
            let event = &events[stopped.index];
            tracing::warn!(
                sequence_number = sequence_numbers[stopped.index],
                execution_id = %event.execution_id,
                event_id = event.event_id,
                error = %stopped.error,
                "publishing stopped; Lambda delivers this record and the later ones again"
            );
            Some(sequence_numbers[stopped.index])
        }
    };
    let published = stopped_at.map_or(events.len(), |at| {
        sequence_numbers.iter().take_while(|s| **s != at).count()
    });
    tracing::info!(
        records = records.len(),
        trail_events = events.len(),
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
pub async fn serve(notifier: &dyn Notifier, decode: TrailDecoder) -> Result<(), crate::Error> {
    crate::run(crate::service_fn(
        move |event: crate::LambdaEvent<Value>| async move {
            publish_batch(notifier, decode, &event.payload)
                .await
                .map_err(crate::Error::from)
        },
    ))
    .await
}

#[cfg(test)]
mod tests;
