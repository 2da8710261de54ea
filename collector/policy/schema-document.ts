// Generated from schema.ts by `npm run schema`; do not edit (test/unit/policy/schema.test.ts
// fails when it differs). The policy's JSON Schema as a plain object: loading a policy
// then needs no schema library at run time.

export const POLICY_SCHEMA: Record<string, unknown> = {
  "additionalProperties": false,
  "$id": "https://segwatch.invalid/schema/policy.schema.json",
  "title": "segwatch site policy",
  "description": "The allowlist policy of a segwatch site (policies/site.yaml).",
  "type": "object",
  "required": [
    "version",
    "segments",
    "watch",
    "default_profile",
    "profiles"
  ],
  "properties": {
    "version": {
      "description": "policy language version: 1",
      "const": 1,
      "type": "number"
    },
    "segments": {
      "description": "named networks: name -> list of CIDRs; the most specific CIDR wins",
      "additionalProperties": false,
      "type": "object",
      "patternProperties": {
        "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$": {
          "minItems": 1,
          "type": "array",
          "items": {
            "description": "a CIDR or an IP",
            "type": "string"
          }
        }
      }
    },
    "watch": {
      "minItems": 1,
      "description": "segments whose devices are watched",
      "type": "array",
      "items": {
        "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
        "description": "segment name: letters, digits, \"_\", \".\" or \"-\", at most 64",
        "type": "string"
      }
    },
    "protected": {
      "description": "segments a watched device must not open flows into",
      "type": "array",
      "items": {
        "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
        "description": "segment name: letters, digits, \"_\", \".\" or \"-\", at most 64",
        "type": "string"
      }
    },
    "resolvers": {
      "description": "approved DNS resolvers",
      "type": "array",
      "items": {
        "description": "an IP address",
        "type": "string"
      }
    },
    "vlan": {
      "minimum": 1,
      "maximum": 4094,
      "description": "an 802.1Q VLAN id, 1-4094",
      "type": "integer"
    },
    "devices": {
      "description": "device entries; first match wins",
      "type": "array",
      "items": {
        "additionalProperties": false,
        "description": "a device entry: name, profile and at least one of mac, ip, vendor, hostname; all given keys must match",
        "type": "object",
        "required": [
          "name",
          "profile"
        ],
        "properties": {
          "name": {
            "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
            "description": "device name: letters, digits, \"_\", \".\" or \"-\", at most 64",
            "type": "string"
          },
          "profile": {
            "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
            "description": "profile name (letters, digits, \"_\", \".\" or \"-\", at most 64), or \"mud\" (judged by the MUD file its MUD URL names) or \"learn\" (its profile is being learned)",
            "type": "string"
          },
          "mac": {
            "description": "a MAC or MAC glob, e.g. \"aa:bb:cc:00:00:01\" or \"aa:bb:cc:*\" (case-insensitive)",
            "type": "string"
          },
          "ip": {
            "description": "an IP or a CIDR",
            "type": "string"
          },
          "vendor": {
            "minLength": 1,
            "description": "a glob on the OUI vendor name, e.g. \"TP-LINK*\" (case-insensitive)",
            "type": "string"
          },
          "hostname": {
            "minLength": 1,
            "description": "a glob on the DHCP/mDNS host name, e.g. \"Chromecast-*\" (case-insensitive)",
            "type": "string"
          },
          "comment": {
            "type": "string"
          }
        }
      }
    },
    "default_profile": {
      "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
      "description": "profile name: letters, digits, \"_\", \".\" or \"-\", at most 64",
      "type": "string"
    },
    "controllers": {
      "description": "named sets of hosts for \"controller:NAME\" targets: name -> list of IPs, CIDRs, domain globs or \"device:NAME\"",
      "additionalProperties": false,
      "type": "object",
      "patternProperties": {
        "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$": {
          "minItems": 1,
          "type": "array",
          "items": {
            "minLength": 1,
            "description": "an IP, a CIDR, a domain glob or \"device:NAME\"",
            "type": "string"
          }
        }
      }
    },
    "mud": {
      "additionalProperties": false,
      "description": "MUD (RFC 8520): devices judged by their manufacturer's MUD file",
      "type": "object",
      "properties": {
        "auto": {
          "description": "true or false: judge every watched device that announces a MUD URL and has no entry of its own by its MUD file",
          "type": "boolean"
        },
        "dir": {
          "minLength": 1,
          "description": "a local folder of MUD files, for sites that fetch nothing",
          "type": "string"
        }
      }
    },
    "profiles": {
      "description": "profiles by name",
      "additionalProperties": false,
      "type": "object",
      "patternProperties": {
        "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$": {
          "additionalProperties": false,
          "description": "a device profile: allow rules, inbound rules and limits",
          "type": "object",
          "required": [
            "allow"
          ],
          "properties": {
            "description": {
              "type": "string"
            },
            "allow": {
              "description": "allow rules; a flow is allowed when any rule allows it",
              "type": "array",
              "items": {
                "additionalProperties": false,
                "description": "an allow rule: `service`, or `to` and/or `ports`, `from_ports`, `icmp`, `icmpv6`, `proto`",
                "type": "object",
                "properties": {
                  "to": {
                    "minLength": 1,
                    "description": "destination: an IP, a CIDR, a domain glob (\"*.ring.com\" or \"ring.com\"), \"segment:NAME\", \"device:NAME\", \"controller:NAME\", \"manufacturer:DOMAIN\", \"same-manufacturer\" or \"local-networks\"; left out = any host",
                    "type": "string"
                  },
                  "ports": {
                    "minItems": 1,
                    "description": "ports the rule allows; left out = any port and protocol",
                    "type": "array",
                    "items": {
                      "description": "a port: \"N/proto\", \"N-M/proto\" (proto tcp, udp or sctp) or \"icmp\"",
                      "type": "string"
                    }
                  },
                  "from_ports": {
                    "minItems": 1,
                    "description": "the device's own (source) ports the flow may come from",
                    "type": "array",
                    "items": {
                      "description": "a port: \"N/proto\", \"N-M/proto\" (proto tcp, udp or sctp) or \"icmp\"",
                      "type": "string"
                    }
                  },
                  "icmp": {
                    "minItems": 1,
                    "description": "ICMP types (and codes) the rule allows, and only those",
                    "type": "array",
                    "items": {
                      "description": "an ICMP type by name (echo-reply, destination-unreachable, source-quench, redirect, echo-request, router-advertisement, router-solicitation, time-exceeded, parameter-problem, timestamp, timestamp-reply) or number 0-255, optionally with a code: \"TYPE/CODE\"",
                      "anyOf": [
                        {
                          "minimum": 0,
                          "maximum": 255,
                          "type": "integer"
                        },
                        {
                          "minLength": 1,
                          "type": "string"
                        }
                      ]
                    }
                  },
                  "icmpv6": {
                    "minItems": 1,
                    "description": "ICMPv6 types (and codes) the rule allows, and only those",
                    "type": "array",
                    "items": {
                      "description": "an ICMPv6 type by name (destination-unreachable, packet-too-big, time-exceeded, parameter-problem, echo-request, echo-reply, mld-query, mld-report, mld-done, router-solicitation, router-advertisement, neighbor-solicitation, neighbor-advertisement, redirect, mldv2-report) or number 0-255, optionally with a code: \"TYPE/CODE\"",
                      "anyOf": [
                        {
                          "minimum": 0,
                          "maximum": 255,
                          "type": "integer"
                        },
                        {
                          "minLength": 1,
                          "type": "string"
                        }
                      ]
                    }
                  },
                  "proto": {
                    "minimum": 0,
                    "maximum": 255,
                    "description": "an IP protocol number 0-255, e.g. 2 (IGMP), 6 (TCP), 17 (UDP); alone it allows every flow of that protocol",
                    "type": "integer"
                  },
                  "comment": {
                    "description": "free text for people",
                    "type": "string"
                  },
                  "service": {
                    "description": "a built-in service: dns, ntp, dhcp, mdns, ssdp, icmp",
                    "anyOf": [
                      {
                        "const": "dns",
                        "type": "string"
                      },
                      {
                        "const": "ntp",
                        "type": "string"
                      },
                      {
                        "const": "dhcp",
                        "type": "string"
                      },
                      {
                        "const": "mdns",
                        "type": "string"
                      },
                      {
                        "const": "ssdp",
                        "type": "string"
                      },
                      {
                        "const": "icmp",
                        "type": "string"
                      }
                    ]
                  }
                }
              }
            },
            "limits": {
              "additionalProperties": false,
              "description": "byte limits, both directions together",
              "type": "object",
              "properties": {
                "bytes_per_hour": {
                  "description": "a size: a number of bytes or a number with a unit B, KB, MB, GB, TB (decimal) or KiB, MiB, GiB, TiB (binary), e.g. \"500MB\"",
                  "anyOf": [
                    {
                      "minimum": 0,
                      "type": "integer"
                    },
                    {
                      "pattern": "^[0-9]+(\\.[0-9]+)? ?(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?$",
                      "type": "string"
                    }
                  ]
                },
                "bytes_per_day": {
                  "description": "a size: a number of bytes or a number with a unit B, KB, MB, GB, TB (decimal) or KiB, MiB, GiB, TiB (binary), e.g. \"500MB\"",
                  "anyOf": [
                    {
                      "minimum": 0,
                      "type": "integer"
                    },
                    {
                      "pattern": "^[0-9]+(\\.[0-9]+)? ?(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?$",
                      "type": "string"
                    }
                  ]
                }
              }
            },
            "allow_in": {
              "description": "inbound rules: who may open flows to a device of this profile; left out = flows from inside the site are not judged, flows from the Internet always are",
              "type": "array",
              "items": {
                "additionalProperties": false,
                "description": "an inbound rule: who may open flows to the device: `from` and/or `ports`, `from_ports`, `icmp`, `icmpv6`, `proto`",
                "type": "object",
                "properties": {
                  "from": {
                    "minLength": 1,
                    "description": "the host opening the flow: an IP, a CIDR, a domain glob (\"*.ring.com\" or \"ring.com\"), \"segment:NAME\", \"device:NAME\", \"controller:NAME\", \"manufacturer:DOMAIN\", \"same-manufacturer\" or \"local-networks\"; left out = any host",
                    "type": "string"
                  },
                  "ports": {
                    "minItems": 1,
                    "description": "the device's own (destination) ports the opener may reach; left out = any port and protocol",
                    "type": "array",
                    "items": {
                      "description": "a port: \"N/proto\", \"N-M/proto\" (proto tcp, udp or sctp) or \"icmp\"",
                      "type": "string"
                    }
                  },
                  "from_ports": {
                    "minItems": 1,
                    "description": "the opener's (source) ports the flow may come from",
                    "type": "array",
                    "items": {
                      "description": "a port: \"N/proto\", \"N-M/proto\" (proto tcp, udp or sctp) or \"icmp\"",
                      "type": "string"
                    }
                  },
                  "icmp": {
                    "minItems": 1,
                    "description": "ICMP types (and codes) the rule allows, and only those",
                    "type": "array",
                    "items": {
                      "description": "an ICMP type by name (echo-reply, destination-unreachable, source-quench, redirect, echo-request, router-advertisement, router-solicitation, time-exceeded, parameter-problem, timestamp, timestamp-reply) or number 0-255, optionally with a code: \"TYPE/CODE\"",
                      "anyOf": [
                        {
                          "minimum": 0,
                          "maximum": 255,
                          "type": "integer"
                        },
                        {
                          "minLength": 1,
                          "type": "string"
                        }
                      ]
                    }
                  },
                  "icmpv6": {
                    "minItems": 1,
                    "description": "ICMPv6 types (and codes) the rule allows, and only those",
                    "type": "array",
                    "items": {
                      "description": "an ICMPv6 type by name (destination-unreachable, packet-too-big, time-exceeded, parameter-problem, echo-request, echo-reply, mld-query, mld-report, mld-done, router-solicitation, router-advertisement, neighbor-solicitation, neighbor-advertisement, redirect, mldv2-report) or number 0-255, optionally with a code: \"TYPE/CODE\"",
                      "anyOf": [
                        {
                          "minimum": 0,
                          "maximum": 255,
                          "type": "integer"
                        },
                        {
                          "minLength": 1,
                          "type": "string"
                        }
                      ]
                    }
                  },
                  "proto": {
                    "minimum": 0,
                    "maximum": 255,
                    "description": "an IP protocol number 0-255, e.g. 2 (IGMP), 6 (TCP), 17 (UDP); alone it allows every flow of that protocol",
                    "type": "integer"
                  },
                  "comment": {
                    "description": "free text for people",
                    "type": "string"
                  }
                }
              }
            }
          }
        }
      }
    },
    "detectors": {
      "additionalProperties": false,
      "description": "detector thresholds, windows and severities; everything left out keeps its default",
      "type": "object",
      "properties": {
        "scan_hosts": {
          "additionalProperties": false,
          "description": "scan.hosts: a slow rule (failed attempts: threshold, window) and a fast one (SYN rate: fast_threshold, fast_window)",
          "type": "object",
          "properties": {
            "threshold": {
              "minimum": 1,
              "description": "slow scans: scan.hosts fires when connection attempts of one device to this many distinct hosts failed (no answer, a RST) within the window, at least 1",
              "type": "integer"
            },
            "window": {
              "pattern": "^[0-9]+(ms|s|m|h|d)$",
              "description": "window of the slow scan.hosts rule, and how long a scan lasts after its last flow, packet time. A duration: a whole number with a unit ms, s, m, h or d, e.g. \"60s\", \"5m\", \"1h\"",
              "type": "string"
            },
            "fast_threshold": {
              "minimum": 2,
              "description": "fast scans: scan.hosts fires when one device sends SYNs to this many distinct hosts within fast_window, at least 2",
              "type": "integer"
            },
            "fast_window": {
              "pattern": "^[0-9]+(ms|s|m|h|d)$",
              "description": "window of the fast scan.hosts rule, packet time. A duration: a whole number with a unit ms, s, m, h or d, e.g. \"60s\", \"5m\", \"1h\"",
              "type": "string"
            }
          }
        },
        "scan_ports": {
          "additionalProperties": false,
          "description": "scan.ports: a slow rule (failed attempts: threshold, window) and a fast one (SYN rate: fast_threshold, fast_window)",
          "type": "object",
          "properties": {
            "threshold": {
              "minimum": 1,
              "description": "slow scans: scan.ports fires when connection attempts of one device to this many distinct ports of one host failed (no answer, a RST) within the window, at least 1",
              "type": "integer"
            },
            "window": {
              "pattern": "^[0-9]+(ms|s|m|h|d)$",
              "description": "window of the slow scan.ports rule, and how long a scan lasts after its last flow, packet time. A duration: a whole number with a unit ms, s, m, h or d, e.g. \"60s\", \"5m\", \"1h\"",
              "type": "string"
            },
            "fast_threshold": {
              "minimum": 2,
              "description": "fast scans: scan.ports fires when one device sends SYNs to this many distinct ports of one host within fast_window, at least 2",
              "type": "integer"
            },
            "fast_window": {
              "pattern": "^[0-9]+(ms|s|m|h|d)$",
              "description": "window of the fast scan.ports rule, packet time. A duration: a whole number with a unit ms, s, m, h or d, e.g. \"60s\", \"5m\", \"1h\"",
              "type": "string"
            }
          }
        },
        "anomaly_idle": {
          "pattern": "^[0-9]+(ms|s|m|h|d)$",
          "description": "an open anomaly closes when its cause has been quiet this long (packet time in a replay, wall-clock live); repeats until then raise its count; at least 1ms. A duration: a whole number with a unit ms, s, m, h or d, e.g. \"60s\", \"5m\", \"1h\"",
          "type": "string"
        },
        "anomaly_update": {
          "pattern": "^[0-9]+(ms|s|m|h|d)$",
          "description": "an open anomaly that changed is written again under its id at most once per this interval; 0s writes every change at the next tick. A duration: a whole number with a unit ms, s, m, h or d, e.g. \"60s\", \"5m\", \"1h\"",
          "type": "string"
        },
        "suppress_window": {
          "pattern": "^[0-9]+(ms|s|m|h|d)$",
          "description": "the older name of anomaly_idle; at least 1ms. A duration: a whole number with a unit ms, s, m, h or d, e.g. \"60s\", \"5m\", \"1h\"",
          "type": "string"
        },
        "dns_grace": {
          "pattern": "^[0-9]+(ms|s|m|h|d)$",
          "description": "how long a DNS answer still names its address after its TTL ran out; 0s for none. A duration: a whole number with a unit ms, s, m, h or d, e.g. \"60s\", \"5m\", \"1h\"",
          "type": "string"
        },
        "plaintext_ports": {
          "description": "server ports reported as protocol.plaintext; replaces the default list ([] turns the detector off)",
          "type": "array",
          "items": {
            "description": "a clear-text protocol's server port: \"23/tcp\" or a range \"512-514/tcp\" (tcp or udp)",
            "type": "string"
          }
        },
        "critical_ips": {
          "description": "addresses (gateways) whose claim by a second MAC is critical; approved resolvers always are",
          "type": "array",
          "items": {
            "description": "an IP address",
            "type": "string"
          }
        },
        "severity": {
          "additionalProperties": false,
          "description": "severity per anomaly kind; kinds left out keep their default",
          "type": "object",
          "properties": {
            "policy.violation": {
              "description": "a severity: info, low, medium, high, critical",
              "anyOf": [
                {
                  "const": "info",
                  "type": "string"
                },
                {
                  "const": "low",
                  "type": "string"
                },
                {
                  "const": "medium",
                  "type": "string"
                },
                {
                  "const": "high",
                  "type": "string"
                },
                {
                  "const": "critical",
                  "type": "string"
                }
              ]
            },
            "segment.crossing": {
              "description": "a severity: info, low, medium, high, critical",
              "anyOf": [
                {
                  "const": "info",
                  "type": "string"
                },
                {
                  "const": "low",
                  "type": "string"
                },
                {
                  "const": "medium",
                  "type": "string"
                },
                {
                  "const": "high",
                  "type": "string"
                },
                {
                  "const": "critical",
                  "type": "string"
                }
              ]
            },
            "device.new": {
              "description": "a severity: info, low, medium, high, critical",
              "anyOf": [
                {
                  "const": "info",
                  "type": "string"
                },
                {
                  "const": "low",
                  "type": "string"
                },
                {
                  "const": "medium",
                  "type": "string"
                },
                {
                  "const": "high",
                  "type": "string"
                },
                {
                  "const": "critical",
                  "type": "string"
                }
              ]
            },
            "device.spoof": {
              "description": "a severity: info, low, medium, high, critical",
              "anyOf": [
                {
                  "const": "info",
                  "type": "string"
                },
                {
                  "const": "low",
                  "type": "string"
                },
                {
                  "const": "medium",
                  "type": "string"
                },
                {
                  "const": "high",
                  "type": "string"
                },
                {
                  "const": "critical",
                  "type": "string"
                }
              ]
            },
            "scan.hosts": {
              "description": "a severity: info, low, medium, high, critical",
              "anyOf": [
                {
                  "const": "info",
                  "type": "string"
                },
                {
                  "const": "low",
                  "type": "string"
                },
                {
                  "const": "medium",
                  "type": "string"
                },
                {
                  "const": "high",
                  "type": "string"
                },
                {
                  "const": "critical",
                  "type": "string"
                }
              ]
            },
            "scan.ports": {
              "description": "a severity: info, low, medium, high, critical",
              "anyOf": [
                {
                  "const": "info",
                  "type": "string"
                },
                {
                  "const": "low",
                  "type": "string"
                },
                {
                  "const": "medium",
                  "type": "string"
                },
                {
                  "const": "high",
                  "type": "string"
                },
                {
                  "const": "critical",
                  "type": "string"
                }
              ]
            },
            "protocol.plaintext": {
              "description": "a severity: info, low, medium, high, critical",
              "anyOf": [
                {
                  "const": "info",
                  "type": "string"
                },
                {
                  "const": "low",
                  "type": "string"
                },
                {
                  "const": "medium",
                  "type": "string"
                },
                {
                  "const": "high",
                  "type": "string"
                },
                {
                  "const": "critical",
                  "type": "string"
                }
              ]
            },
            "dns.bypass": {
              "description": "a severity: info, low, medium, high, critical",
              "anyOf": [
                {
                  "const": "info",
                  "type": "string"
                },
                {
                  "const": "low",
                  "type": "string"
                },
                {
                  "const": "medium",
                  "type": "string"
                },
                {
                  "const": "high",
                  "type": "string"
                },
                {
                  "const": "critical",
                  "type": "string"
                }
              ]
            },
            "volume.limit": {
              "description": "a severity: info, low, medium, high, critical",
              "anyOf": [
                {
                  "const": "info",
                  "type": "string"
                },
                {
                  "const": "low",
                  "type": "string"
                },
                {
                  "const": "medium",
                  "type": "string"
                },
                {
                  "const": "high",
                  "type": "string"
                },
                {
                  "const": "critical",
                  "type": "string"
                }
              ]
            },
            "credentials.default": {
              "description": "a severity: info, low, medium, high, critical",
              "anyOf": [
                {
                  "const": "info",
                  "type": "string"
                },
                {
                  "const": "low",
                  "type": "string"
                },
                {
                  "const": "medium",
                  "type": "string"
                },
                {
                  "const": "high",
                  "type": "string"
                },
                {
                  "const": "critical",
                  "type": "string"
                }
              ]
            },
            "collector.degraded": {
              "description": "a severity: info, low, medium, high, critical",
              "anyOf": [
                {
                  "const": "info",
                  "type": "string"
                },
                {
                  "const": "low",
                  "type": "string"
                },
                {
                  "const": "medium",
                  "type": "string"
                },
                {
                  "const": "high",
                  "type": "string"
                },
                {
                  "const": "critical",
                  "type": "string"
                }
              ]
            },
            "device.exposed": {
              "description": "a severity: info, low, medium, high, critical",
              "anyOf": [
                {
                  "const": "info",
                  "type": "string"
                },
                {
                  "const": "low",
                  "type": "string"
                },
                {
                  "const": "medium",
                  "type": "string"
                },
                {
                  "const": "high",
                  "type": "string"
                },
                {
                  "const": "critical",
                  "type": "string"
                }
              ]
            }
          }
        }
      }
    },
    "exceptions": {
      "description": "accepted behaviours: matching anomalies are stored and shown, marked suppressed, and not alerted",
      "type": "array",
      "items": {
        "additionalProperties": false,
        "description": "an accepted behaviour: matching anomalies are marked suppressed and not alerted",
        "type": "object",
        "required": [
          "comment"
        ],
        "properties": {
          "device": {
            "minLength": 1,
            "description": "a device name or glob (\"plugs-*\"); left out: every device",
            "type": "string"
          },
          "kind": {
            "minLength": 1,
            "description": "an anomaly kind or glob (\"scan.*\"); left out: every kind",
            "type": "string"
          },
          "peer": {
            "minLength": 1,
            "description": "the peer's address or name, or a glob (\"*.tplinkcloud.com\"); left out: every peer",
            "type": "string"
          },
          "port": {
            "description": "the peer port, 0-65535, or a glob of digits (\"8*\")",
            "anyOf": [
              {
                "minimum": 0,
                "maximum": 65535,
                "type": "integer"
              },
              {
                "pattern": "^[0-9*?]+$",
                "type": "string"
              }
            ]
          },
          "comment": {
            "minLength": 1,
            "description": "why this behaviour is accepted (required)",
            "type": "string"
          },
          "until": {
            "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]+)?)?(Z|[+-][0-9]{2}:?[0-9]{2})?)?$",
            "description": "when it stops applying: a date (2027-01-31, the end of that day, UTC) or a date and time (2027-01-31T18:00:00Z)",
            "type": "string"
          }
        }
      }
    }
  }
};
