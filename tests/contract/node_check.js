#!/usr/bin/env node
// Loads every protos/almanac/v1/*.proto the way a Node client would
// (@grpc/proto-loader + @grpc/grpc-js loadPackageDefinition) and prints, as JSON:
//
//   {
//     "files":    ["almanac/v1/common.proto", ...],
//     "services": {"almanac.v1.EventService": ["CreateEvent", "GetEvent", ...]},
//     "methods":  {"almanac.v1.EventService/GetEvent":
//                    {"server_streaming": false, "client_streaming": false}}
//   }
//
// Used by tests/contract/test_node_loader.py, which compares it with the Python
// descriptors. Run from anywhere: paths are resolved from this file.
// Usage: node tests/contract/node_check.js [PROTO_ROOT]
"use strict";

const fs = require("fs");
const path = require("path");

const REPO = path.resolve(__dirname, "..", "..");
// Optional first argument: another proto root laid out like protos/ (used to
// check a temporary copy); defaults to the repo's protos/.
const PROTO_ROOT = process.argv[2] ? path.resolve(process.argv[2]) : path.join(REPO, "protos");
const THIRD_PARTY = path.join(PROTO_ROOT, "third_party");
const PACKAGE_DIR = path.join("almanac", "v1");
const PACKAGE_PREFIX = "almanac.";

function requireDep(name) {
  try {
    return require(require.resolve(name, { paths: [REPO] }));
  } catch (err) {
    process.stderr.write(
      `cannot load ${name} (${err.code || err.message}): run \`npm ci\` in ${REPO}\n`,
    );
    process.exit(3);
  }
}

const protoLoader = requireDep("@grpc/proto-loader");
const grpc = requireDep("@grpc/grpc-js");

function protoFiles() {
  return fs
    .readdirSync(path.join(PROTO_ROOT, PACKAGE_DIR))
    .filter((name) => name.endsWith(".proto"))
    .sort()
    .map((name) => path.posix.join("almanac", "v1", name));
}

function sortedObject(obj) {
  const out = {};
  for (const key of Object.keys(obj).sort()) out[key] = obj[key];
  return out;
}

// Every service client constructor in the object returned by loadPackageDefinition.
function collectClients(node, prefix, out) {
  for (const [key, value] of Object.entries(node)) {
    const name = prefix ? `${prefix}.${key}` : key;
    if (typeof value === "function" && value.service) {
      out[name] = value;
    } else if (value && typeof value === "object" && !("format" in value)) {
      collectClients(value, name, out);
    }
  }
  return out;
}

function main() {
  const files = protoFiles();
  const result = { files, services: {}, methods: {} };
  if (files.length === 0) {
    process.stdout.write(JSON.stringify(result, null, 2) + "\n");
    return;
  }
  const packageDefinition = protoLoader.loadSync(files, {
    includeDirs: [PROTO_ROOT, THIRD_PARTY],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const grpcObject = grpc.loadPackageDefinition(packageDefinition);
  const clients = collectClients(grpcObject, "", {});

  const services = {};
  const methods = {};
  for (const [serviceName, client] of Object.entries(clients)) {
    if (!serviceName.startsWith(PACKAGE_PREFIX)) continue;
    if (typeof client.serviceName !== "string") {
      throw new Error(`${serviceName}: grpc-js client has no serviceName`);
    }
    const names = [];
    for (const [methodName, def] of Object.entries(client.service)) {
      const expectedPath = `/${serviceName}/${methodName}`;
      if (def.path !== expectedPath) {
        throw new Error(`${serviceName}.${methodName}: path ${def.path} != ${expectedPath}`);
      }
      if (typeof client.prototype[methodName] !== "function") {
        throw new Error(`${serviceName}: client has no method ${methodName}`);
      }
      names.push(methodName);
      methods[`${serviceName}/${methodName}`] = {
        server_streaming: Boolean(def.responseStream),
        client_streaming: Boolean(def.requestStream),
      };
    }
    services[serviceName] = names.sort();
  }
  // Cross-check: every service in the raw package definition became a client.
  for (const [name, value] of Object.entries(packageDefinition)) {
    const isMessageOrEnum = value && typeof value === "object" && "format" in value;
    if (!isMessageOrEnum && name.startsWith(PACKAGE_PREFIX) && !(name in services)) {
      throw new Error(`service ${name} is in the package definition but has no client`);
    }
  }
  result.services = sortedObject(services);
  result.methods = sortedObject(methods);
  process.stdout.write(JSON.stringify(result, null, 2) + "\n");
}

try {
  main();
} catch (err) {
  process.stderr.write(`node_check failed: ${err.stack || err}\n`);
  process.exit(1);
}
