//! `Ec2Service` against moto: real DescribeInstances with the `instance-id` filter.

use aws_adapters::Ec2Service;
use aws_sdk_ec2::types::InstanceType;
use execution_core::ids::InstanceId;
use execution_core::ports::Ec2;

#[tokio::test]
async fn describes_known_instances_and_skips_unknown_ones() {
    let client = moto_client!(aws_sdk_ec2);
    let run = client
        .run_instances()
        .image_id("ami-12c6146b")
        .instance_type(InstanceType::T3Medium)
        .min_count(3)
        .max_count(3)
        .send()
        .await
        .unwrap();
    let ids: Vec<InstanceId> = run
        .instances()
        .iter()
        .map(|i| InstanceId::parse(i.instance_id().unwrap()).unwrap())
        .collect();
    assert_eq!(ids.len(), 3);

    // Two of ours and one EC2 has never heard of: the call succeeds with the two.
    let unknown = InstanceId::parse("i-0123456789abcdef0").unwrap();
    let asked = vec![ids[0].clone(), unknown, ids[2].clone()];
    let mut found = Ec2Service::new(client)
        .describe_instances(&asked)
        .await
        .unwrap();
    found.sort_by(|a, b| a.instance_id.cmp(&b.instance_id));
    let mut expected = vec![ids[0].clone(), ids[2].clone()];
    expected.sort();
    assert_eq!(
        found
            .iter()
            .map(|i| i.instance_id.clone())
            .collect::<Vec<_>>(),
        expected
    );
    for i in &found {
        let ip = i.private_ip.as_deref().expect("private ip");
        assert!(ip.parse::<std::net::Ipv4Addr>().is_ok(), "{ip}");
        assert!(
            i.private_dns_name
                .as_deref()
                .is_some_and(|d| d.contains(&ip.replace('.', "-"))),
            "{i:?}"
        );
        assert_eq!(i.instance_type.as_deref(), Some("t3.medium"));
        assert!(
            matches!(i.state.as_deref(), Some("running" | "pending")),
            "{i:?}"
        );
        assert!(
            i.launch_time.is_some_and(|t| t.secs() > 1_600_000_000),
            "{i:?}"
        );
    }
}

#[tokio::test]
async fn only_unknown_instances_give_an_empty_answer() {
    let client = moto_client!(aws_sdk_ec2);
    let unknown = [InstanceId::parse("i-0fedcba9876543210").unwrap()];
    assert_eq!(
        Ec2Service::new(client)
            .describe_instances(&unknown)
            .await
            .unwrap(),
        vec![]
    );
}
