#!/usr/bin/env node
// A Node.js subscriber of almanac.v1.ActivityService/StreamActivity, the way a
// Node client would write one (@grpc/proto-loader + @grpc/grpc-js on the
// repo's protos). Prints one JSON line per message on stdout:
//
//   {"activity": {...decoded Activity...}, "raw": "<base64 StreamActivityResponse>"}
//   {"heartbeat": {"cursor": "...", "time": {...}}, "raw": "..."}
//
// then, when the stream ends by itself, one line
//
//   {"end": {"code": 14, "codeName": "UNAVAILABLE", "details": "..."}}
//
// Usage: node subscriber.js ADDRESS TOKEN REQUEST_JSON [--until CURSOR]
//   REQUEST_JSON  a StreamActivityRequest as proto-loader objects take it, e.g.
//                 {"parent": "accounts/-", "start_position": "START_POSITION_OLDEST",
//                  "heartbeat_interval": {"seconds": 1}}
//   --until C     stop (exit 0) after a message carrying cursor C
// It also stops (exit 0) when its stdin closes. Exit codes: 0 stopped as asked,
// 2 the stream ended (the "end" line says how), 3 a dependency is missing,
// 1 anything else.
"use strict";

const path = require("path");

const REPO = path.resolve(__dirname, "..", "..", "..");
const PROTO_ROOT = path.join(REPO, "protos");

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

function parseArgs(argv) {
  const positional = [];
  let until = null;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--until") {
      until = argv[++i];
    } else {
      positional.push(argv[i]);
    }
  }
  if (positional.length !== 3) {
    process.stderr.write("usage: subscriber.js ADDRESS TOKEN REQUEST_JSON [--until C]\n");
    process.exit(1);
  }
  const [address, token, requestJson] = positional;
  return { address, token, request: JSON.parse(requestJson), until };
}

function print(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const definition = protoLoader.loadSync("almanac/v1/activity_service.proto", {
    includeDirs: [PROTO_ROOT, path.join(PROTO_ROOT, "third_party")],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const almanac = grpc.loadPackageDefinition(definition).almanac.v1;
  const Client = almanac.ActivityService;
  const method = Client.service.StreamActivity;
  const client = new Client(args.address, grpc.credentials.createInsecure());

  const metadata = new grpc.Metadata();
  metadata.set("authorization", `Bearer ${args.token}`);
  // The generic call, to see each message's bytes as well as its decoded form.
  const call = client.makeServerStreamRequest(
    method.path,
    method.requestSerialize,
    (bytes) => ({ raw: Buffer.from(bytes), message: method.responseDeserialize(bytes) }),
    args.request,
    metadata,
    {},
  );

  let stopping = false;
  function stop() {
    if (stopping) return;
    stopping = true;
    call.cancel();
    client.close();
    // Let stdout drain before leaving.
    process.stdout.write("", () => process.exit(0));
  }

  call.on("data", ({ raw, message }) => {
    if (stopping) return;
    const line = { raw: raw.toString("base64") };
    if (message.item === "activity") {
      line.activity = message.activity;
    } else {
      line.heartbeat = message.heartbeat;
    }
    print(line);
    const cursor = message.item === "activity" ? message.activity.cursor : message.heartbeat.cursor;
    if (args.until !== null && cursor === args.until) stop();
  });
  // Every end of the call, OK or not, comes as one status; "error" repeats it.
  call.on("error", () => {});
  call.on("status", (status) => {
    if (stopping) return;
    stopping = true;
    print({
      end: { code: status.code, codeName: grpc.status[status.code], details: status.details },
    });
    client.close();
    process.stdout.write("", () => process.exit(2));
  });

  process.stdin.on("end", stop);
  process.stdin.on("close", stop);
  process.stdin.resume();
}

try {
  main();
} catch (err) {
  process.stderr.write(`subscriber failed: ${err.stack || err}\n`);
  process.exit(1);
}
