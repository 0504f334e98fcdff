//! A whole CRD in YAML, with several CEL rules, admitting a realistic object.

use serde_json::{Value, json};
use suido_admission::{Validator, invalid_message};

const CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: virtualservers.infra.suido.dev
spec:
  group: infra.suido.dev
  names: {kind: VirtualServer, plural: virtualservers}
  scope: Namespaced
  versions:
  - name: v1alpha1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size, os]
            x-kubernetes-validations:
            - rule: "self.os == 'WindowsServer' ? self.osDiskGb >= 80 : self.osDiskGb >= 40"
              message: osDiskGb is below the standard OS disk
              fieldPath: .osDiskGb
            - rule: "!has(self.rdsLicenses) || self.os == 'WindowsServer'"
              message: rdsLicenses is only for WindowsServer
            properties:
              size:
                type: string
                enum: [1CPU-2GB, 1CPU-4GB, 2CPU-8GB]
              os:
                type: string
                enum: [RockyLinux, RHEL, WindowsServer]
                x-kubernetes-validations:
                - rule: self == oldSelf
                  message: os cannot change
              osDiskGb:
                type: integer
                default: 40
                x-kubernetes-validations:
                - rule: self >= oldSelf
                  message: osDiskGb may only grow
              rdsLicenses:
                type: integer
                enum: [10, 30]
              hostname:
                type: string
                pattern: '^[a-z][a-z0-9-]{0,14}$'
              disks:
                type: array
                maxItems: 4
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [path]
                items:
                  type: object
                  required: [path, sizeGb]
                  properties:
                    path: {type: string}
                    sizeGb:
                      type: integer
                      minimum: 10
                      x-kubernetes-validations:
                      - rule: self >= oldSelf
                        message: a disk can only grow
              listeners:
                type: array
                items:
                  type: object
                  properties:
                    port: {type: integer, minimum: 1, maximum: 65535}
                    protocol: {type: string, default: TCP, enum: [TCP, UDP]}
          status:
            type: object
            x-kubernetes-preserve-unknown-fields: true
"#;

fn validator() -> Validator {
    let crd: Value = serde_yaml::from_str(CRD).expect("crd yaml");
    Validator::new(&crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
        .expect("schema compiles")
}

fn server() -> Value {
    json!({
        "apiVersion": "infra.suido.dev/v1alpha1", "kind": "VirtualServer",
        "metadata": {"name": "web-1", "namespace": "billing"},
        "spec": {
            "size": "2CPU-8GB", "os": "RockyLinux", "hostname": "web-1",
            "disks": [{"path": "/data", "sizeGb": 100}, {"path": "/logs", "sizeGb": 20}],
            "listeners": [{"port": 443}, {"port": 53, "protocol": "UDP"}],
            "typo": "pruned"
        }
    })
}

#[test]
fn realistic_object_is_admitted_and_defaulted() {
    let v = validator();
    let mut obj = server();
    v.admit(&mut obj, None).expect("admitted");
    assert_eq!(obj["spec"]["osDiskGb"], 40);
    assert_eq!(obj["spec"]["listeners"][0]["protocol"], "TCP");
    assert!(obj["spec"].get("typo").is_none());
}

#[test]
fn realistic_update_is_checked_against_the_stored_object() {
    let v = validator();
    let mut stored = server();
    v.admit(&mut stored, None).expect("admitted");

    let mut update = stored.clone();
    update["spec"]["disks"] =
        json!([{"path": "/logs", "sizeGb": 30}, {"path": "/data", "sizeGb": 50}]);
    update["spec"]["os"] = json!("RHEL");
    update["spec"]["osDiskGb"] = json!(60);
    let errs = v.admit(&mut update, Some(&stored)).expect_err("refused");
    assert_eq!(
        invalid_message("VirtualServer", "infra.suido.dev", "web-1", &errs),
        "VirtualServer.infra.suido.dev \"web-1\" is invalid: [spec.disks[1].sizeGb: Invalid value: 50: a disk can only grow, spec.os: Invalid value: \"RHEL\": os cannot change]"
    );
}

#[test]
fn realistic_object_with_several_problems() {
    let v = validator();
    let mut obj = server();
    obj["spec"]["os"] = json!("WindowsServer");
    obj["spec"]["hostname"] = json!("Web_1");
    obj["spec"]["osDiskGb"] = json!(60);
    obj["spec"]["listeners"][1]["port"] = json!(70000);
    let errs: Vec<String> = v
        .admit(&mut obj, None)
        .expect_err("refused")
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        errs,
        [
            "spec.hostname: Invalid value: \"Web_1\": spec.hostname in body should match '^[a-z][a-z0-9-]{0,14}$'",
            "spec.listeners[1].port: Invalid value: 70000: spec.listeners[1].port in body should be less than or equal to 65535",
            "spec.osDiskGb: Invalid value: osDiskGb is below the standard OS disk",
        ]
    );

    let mut rds = server();
    rds["spec"]["rdsLicenses"] = json!(10);
    rds["spec"]["disks"] = json!([{"path": "/a", "sizeGb": 10}, {"path": "/a", "sizeGb": 20}]);
    let errs: Vec<String> = v
        .admit(&mut rds, None)
        .expect_err("refused")
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        errs,
        [
            "spec.disks[1]: Duplicate value: {\"path\":\"/a\"}",
            "spec: Invalid value: rdsLicenses is only for WindowsServer",
        ]
    );
}
