use std::sync::{Arc, Mutex};

use aws_adapters::Ec2Service;
use aws_sdk_ec2::operation::describe_instances::DescribeInstancesOutput;
use aws_sdk_ec2::types::{Instance, InstanceState, InstanceStateName, InstanceType, Reservation};
use aws_sdk_ec2::Client;
use aws_smithy_mocks::{mock, RuleMode};
use aws_smithy_types::DateTime;
use execution_core::fixtures::instance;
use execution_core::model::Timestamp;
use execution_core::ports::{Ec2, Ec2Instance, ServiceError};

#[tokio::test]
async fn ids_go_in_instance_id_filters_of_at_most_200_and_pages_are_followed() {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&calls);
    let rule = mock!(Client::describe_instances).then_compute_output(move |r| {
        let filter = &r.filters()[0];
        assert_eq!(filter.name(), Some("instance-id"));
        assert!(
            r.instance_ids().is_empty(),
            "a plain InstanceIds list fails on one unknown id"
        );
        let values = filter.values().to_vec();
        // EC2 answers FilterLimitExceeded past 200 filter values.
        assert!(values.len() <= 200, "{} filter values", values.len());
        seen.lock()
            .unwrap()
            .push((values.len(), r.next_token().map(str::to_owned)));
        // Each batch answers in two pages: its first id, then its second.
        let (id, next) = match r.next_token() {
            None => (values[0].clone(), Some("page-2".to_owned())),
            Some(_) => (values[1].clone(), None),
        };
        let i = Instance::builder().instance_id(id).build();
        DescribeInstancesOutput::builder()
            .reservations(Reservation::builder().instances(i).build())
            .set_next_token(next)
            .build()
    });
    let ec2 = Ec2Service::new(mocked_client!(aws_sdk_ec2, RuleMode::MatchAny, [&rule]));
    let ids: Vec<_> = (0..450).map(instance).collect();
    let found = ec2.describe_instances(&ids).await.unwrap();
    let found_ids: Vec<_> = found.iter().map(|i| i.instance_id.clone()).collect();
    assert_eq!(
        found_ids,
        [
            instance(0),
            instance(1),
            instance(200),
            instance(201),
            instance(400),
            instance(401)
        ]
    );
    assert_eq!(
        *calls.lock().unwrap(),
        [
            (200, None),
            (200, Some("page-2".into())),
            (200, None),
            (200, Some("page-2".into())),
            (50, None),
            (50, Some("page-2".into()))
        ]
    );
}

#[tokio::test]
async fn instance_fields_are_mapped_and_empty_strings_are_absent() {
    let rule = mock!(Client::describe_instances).then_output(|| {
        let full = Instance::builder()
            .instance_id(instance(1).to_string())
            .private_ip_address("10.0.1.50")
            .private_dns_name("ip-10-0-1-50.ec2.internal")
            .instance_type(InstanceType::T3Medium)
            .state(
                InstanceState::builder()
                    .name(InstanceStateName::Running)
                    .build(),
            )
            .launch_time(DateTime::from_secs(1_700_000_123))
            .build();
        let pending = Instance::builder()
            .instance_id(instance(2).to_string())
            .private_dns_name("")
            .build();
        DescribeInstancesOutput::builder()
            .reservations(
                Reservation::builder()
                    .instances(full)
                    .instances(pending)
                    .build(),
            )
            .build()
    });
    let ec2 = Ec2Service::new(mocked_client!(aws_sdk_ec2, RuleMode::MatchAny, [&rule]));
    let found = ec2
        .describe_instances(&[instance(1), instance(2)])
        .await
        .unwrap();
    assert_eq!(
        found,
        [
            Ec2Instance {
                instance_id: instance(1),
                private_ip: Some("10.0.1.50".into()),
                private_dns_name: Some("ip-10-0-1-50.ec2.internal".into()),
                instance_type: Some("t3.medium".into()),
                state: Some("running".into()),
                launch_time: Some(Timestamp(1_700_000_123)),
            },
            Ec2Instance {
                instance_id: instance(2),
                private_ip: None,
                private_dns_name: None,
                instance_type: None,
                state: None,
                launch_time: None
            },
        ]
    );
}

#[tokio::test]
async fn ec2_errors_are_classified() {
    let throttled = mock!(Client::describe_instances).sequence().http_status(503, Some("<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>slow down</Message></Error></Errors></Response>".into())).build();
    let server = mock!(Client::describe_instances)
        .sequence()
        .http_status(500, None)
        .build();
    let bad_id = mock!(Client::describe_instances).then_output(|| {
        DescribeInstancesOutput::builder()
            .reservations(
                Reservation::builder()
                    .instances(Instance::builder().instance_id("vol-123").build())
                    .build(),
            )
            .build()
    });
    let ec2 = Ec2Service::new(mocked_client!(
        aws_sdk_ec2,
        RuleMode::Sequential,
        [&throttled, &server, &bad_id]
    ));
    let r = ec2.describe_instances(&[instance(1)]).await;
    assert!(
        matches!(&r, Err(ServiceError::Throttled { message, .. }) if message.contains("RequestLimitExceeded")),
        "{r:?}"
    );
    assert!(matches!(
        ec2.describe_instances(&[instance(1)]).await,
        Err(ServiceError::Unavailable { .. })
    ));
    assert!(
        matches!(ec2.describe_instances(&[instance(1)]).await, Err(ServiceError::Unavailable { message: m, .. }) if m.contains("unreadable"))
    );
}
