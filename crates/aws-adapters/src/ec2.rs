//! `Ec2` on DescribeInstances, filtered by `instance-id`: unlike a plain `InstanceIds` list, a
//! filter does not fail the whole call when one instance is not known (yet).

use async_trait::async_trait;
use aws_sdk_ec2::types::{Filter, Instance};
use aws_sdk_ec2::Client;
use execution_core::ids::InstanceId;
use execution_core::model::Timestamp;
use execution_core::ports::{Ec2, Ec2Instance, ServiceError, EC2_FILTER_MAX};

use crate::errors::{classify, unreadable};

/// Results per DescribeInstances page (EC2 allows 5..=1000 with a filter).
const PAGE_SIZE: i32 = 1000;

#[derive(Debug, Clone)]
pub struct Ec2Service {
    client: Client,
}

impl Ec2Service {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl Ec2 for Ec2Service {
    async fn describe_instances(
        &self,
        ids: &[InstanceId],
    ) -> Result<Vec<Ec2Instance>, ServiceError> {
        let what = "EC2 DescribeInstances";
        let mut found = Vec::new();
        // The port takes at most EC2_FILTER_MAX ids; more are still split, never sent in one filter.
        for chunk in ids.chunks(EC2_FILTER_MAX) {
            let filter = Filter::builder()
                .name("instance-id")
                .set_values(Some(chunk.iter().map(ToString::to_string).collect()))
                .build();
            let reservations = self
                .client
                .describe_instances()
                .filters(filter)
                .into_paginator()
                .page_size(PAGE_SIZE)
                .items()
                .send()
                .try_collect()
                .await
                .map_err(|e| classify(what, &e))?;
            for instance in reservations.iter().flat_map(|r| r.instances()) {
                found.push(to_instance(what, instance)?);
            }
        }
        Ok(found)
    }
}

fn to_instance(what: &str, i: &Instance) -> Result<Ec2Instance, ServiceError> {
    let raw = i
        .instance_id
        .as_deref()
        .ok_or_else(|| unreadable(what, "an instance without an id"))?;
    // EC2 sends "" for fields that have no value yet (a pending instance's DNS name).
    let text = |v: Option<&str>| v.filter(|s| !s.is_empty()).map(str::to_owned);
    Ok(Ec2Instance {
        instance_id: InstanceId::parse(raw).map_err(|e| unreadable(what, e))?,
        private_ip: text(i.private_ip_address.as_deref()),
        private_dns_name: text(i.private_dns_name.as_deref()),
        instance_type: text(i.instance_type.as_ref().map(|t| t.as_str())),
        state: text(
            i.state
                .as_ref()
                .and_then(|s| s.name.as_ref())
                .map(|n| n.as_str()),
        ),
        launch_time: i.launch_time.map(|t| Timestamp(t.secs())),
    })
}
