'use strict';
// The JS SDK's JaegerRemoteSampler (@opentelemetry/sampler-jaeger-remote) fetches its
// strategy from otlpd's jaegerremotesampling extension and applies it; the spans it keeps
// go to otlpd over OTLP/HTTP (protobuf).
//
//   node jaeger_sampler.js <sampling port> <otlp http port>
//
// For each service, the tracer provider starts with the opposite of what the daemon will
// say (initialSampler), waits until the sampler has fetched the daemon's strategy, then
// starts 20 root spans, alternately named "keep" and "drop". Exits 0 if every export
// succeeded and every sampler was updated; prints one JSON summary line on stdout.

const { resourceFromAttributes } = require('@opentelemetry/resources');
const {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BasicTracerProvider,
  SimpleSpanProcessor,
} = require('@opentelemetry/sdk-trace-base');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
const { JaegerRemoteSampler } = require('@opentelemetry/sampler-jaeger-remote');

const [samplingPort, httpPort] = process.argv.slice(2).map(Number);
if (!samplingPort || !httpPort) {
  console.error('usage: node jaeger_sampler.js <sampling port> <otlp http port>');
  process.exit(64);
}

// service -> the sampler it starts with (the opposite of the daemon's strategy for it).
const cases = {
  'js-sampled-none': new AlwaysOnSampler(),   // daemon: probabilistic 0
  'js-sampled-all': new AlwaysOffSampler(),   // daemon: probabilistic 1
  'js-per-operation': new AlwaysOffSampler(), // daemon: default 0, operation "keep" 1
};

const summary = { exports: [], updated: {}, started: {} };

async function waitForUpdate(sampler, initial) {
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline) {
    // The sampler swaps its delegate once a fetched strategy is applied.
    if (sampler._sampler !== initial) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

async function run(service, initial) {
  const sampler = new JaegerRemoteSampler({
    endpoint: `http://127.0.0.1:${samplingPort}`,
    serviceName: service,
    poolingInterval: 100,
    initialSampler: initial,
  });
  summary.updated[service] = await waitForUpdate(sampler, initial);
  const exporter = new OTLPTraceExporter({ url: `http://127.0.0.1:${httpPort}/v1/traces` });
  const exportFn = exporter.export.bind(exporter);
  exporter.export = (spans, done) =>
    exportFn(spans, (result) => {
      summary.exports.push(result.code === 0 ? 'ok' : String(result.error || result.code));
      done(result);
    });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': service }),
    sampler,
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer('otlpd-jaeger-sampler-test');
  for (let i = 0; i < 20; ++i) {
    tracer.startSpan(i % 2 === 0 ? 'keep' : 'drop').end();
  }
  summary.started[service] = 20;
  await provider.forceFlush();
  await provider.shutdown();
}

async function main() {
  for (const [service, initial] of Object.entries(cases)) await run(service, initial);
  console.log(JSON.stringify(summary));
  const ok = summary.exports.every((e) => e === 'ok') && Object.values(summary.updated).every(Boolean);
  // The samplers' polling timers would keep node running.
  process.exit(ok ? 0 : 1);
}

main().catch((err) => {
  console.error('jaeger_sampler.js failed:', err);
  process.exit(2);
});
