'use strict';
// Sends one span, one metric and one log record through each of the 9 signal x transport
// combinations of the real OpenTelemetry JS SDK to otlpd, then flushes and shuts down.
//
//   node send_all.js <grpc port> <http port>
//
// Every combination gets its own resource (service.name "otlpd-sdk-<signal>-<transport>",
// attribute otlpd.test.combo "<signal>/<transport>") so the test can tell them apart in the
// file exporter's output. Exits 0 only if every exporter reported success; prints one JSON
// summary line on stdout.

const { resourceFromAttributes } = require('@opentelemetry/resources');
const { BasicTracerProvider, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { MeterProvider, PeriodicExportingMetricReader } = require('@opentelemetry/sdk-metrics');
const { LoggerProvider, SimpleLogRecordProcessor } = require('@opentelemetry/sdk-logs');
const { SeverityNumber } = require('@opentelemetry/api-logs');

const traceGrpc = require('@opentelemetry/exporter-trace-otlp-grpc');
const traceProto = require('@opentelemetry/exporter-trace-otlp-proto');
const traceHttp = require('@opentelemetry/exporter-trace-otlp-http');
const metricsGrpc = require('@opentelemetry/exporter-metrics-otlp-grpc');
const metricsProto = require('@opentelemetry/exporter-metrics-otlp-proto');
const metricsHttp = require('@opentelemetry/exporter-metrics-otlp-http');
const logsGrpc = require('@opentelemetry/exporter-logs-otlp-grpc');
const logsProto = require('@opentelemetry/exporter-logs-otlp-proto');
const logsHttp = require('@opentelemetry/exporter-logs-otlp-http');

const [grpcPort, httpPort] = process.argv.slice(2).map(Number);
if (!grpcPort || !httpPort) {
  console.error('usage: node send_all.js <grpc port> <http port>');
  process.exit(64);
}
const grpcUrl = `http://127.0.0.1:${grpcPort}`;
const httpUrl = (path) => `http://127.0.0.1:${httpPort}${path}`;

// Export results per combination, filled by the wrapped exporters.
const results = {};

// Records every export result of `exporter` under `combo`, keeping the SDK's own flow intact.
function track(exporter, combo) {
  const exportFn = exporter.export.bind(exporter);
  exporter.export = (items, done) =>
    exportFn(items, (result) => {
      (results[combo] ||= []).push(result.code === 0 ? 'ok' : String(result.error || result.code));
      done(result);
    });
  return exporter;
}

function resourceFor(signal, transport) {
  return resourceFromAttributes({
    'service.name': `otlpd-sdk-${signal}-${transport}`,
    'otlpd.test.combo': `${signal}/${transport}`,
  });
}

const transports = {
  'grpc': {
    traces: () => new traceGrpc.OTLPTraceExporter({ url: grpcUrl }),
    metrics: () => new metricsGrpc.OTLPMetricExporter({ url: grpcUrl }),
    logs: () => new logsGrpc.OTLPLogExporter({ url: grpcUrl }),
  },
  'http-protobuf': {
    traces: () => new traceProto.OTLPTraceExporter({ url: httpUrl('/v1/traces') }),
    metrics: () => new metricsProto.OTLPMetricExporter({ url: httpUrl('/v1/metrics') }),
    logs: () => new logsProto.OTLPLogExporter({ url: httpUrl('/v1/logs') }),
  },
  'http-json': {
    traces: () => new traceHttp.OTLPTraceExporter({ url: httpUrl('/v1/traces') }),
    metrics: () => new metricsHttp.OTLPMetricExporter({ url: httpUrl('/v1/metrics') }),
    logs: () => new logsHttp.OTLPLogExporter({ url: httpUrl('/v1/logs') }),
  },
};

async function sendTraces(transport, make) {
  const combo = `traces/${transport}`;
  const provider = new BasicTracerProvider({
    resource: resourceFor('traces', transport),
    spanProcessors: [new SimpleSpanProcessor(track(make(), combo))],
  });
  const tracer = provider.getTracer('otlpd-sdk-test', '1.0.0');
  const parent = tracer.startSpan(`span-${transport}`, { attributes: { 'otlpd.test.combo': combo } });
  parent.setAttribute('otlpd.test.number', 42);
  parent.addEvent('event-' + transport);
  parent.end();
  await provider.forceFlush();
  await provider.shutdown();
}

async function sendMetrics(transport, make) {
  const combo = `metrics/${transport}`;
  const reader = new PeriodicExportingMetricReader({
    exporter: track(make(), combo),
    exportIntervalMillis: 60000,  // only the explicit flush exports
    exportTimeoutMillis: 10000,
  });
  const provider = new MeterProvider({ resource: resourceFor('metrics', transport), readers: [reader] });
  const meter = provider.getMeter('otlpd-sdk-test', '1.0.0');
  const counter = meter.createCounter(`otlpd.sdk.counter.${transport}`, { description: 'test counter' });
  counter.add(7, { 'otlpd.test.combo': combo });
  const histogram = meter.createHistogram(`otlpd.sdk.histogram.${transport}`);
  histogram.record(12.5, { 'otlpd.test.combo': combo });
  await provider.forceFlush();
  await provider.shutdown();
}

async function sendLogs(transport, make) {
  const combo = `logs/${transport}`;
  const provider = new LoggerProvider({
    resource: resourceFor('logs', transport),
    processors: [new SimpleLogRecordProcessor(track(make(), combo))],
  });
  const logger = provider.getLogger('otlpd-sdk-test', '1.0.0');
  logger.emit({
    severityNumber: SeverityNumber.WARN,
    severityText: 'WARN',
    body: `log-${transport}`,
    attributes: { 'otlpd.test.combo': combo },
  });
  await provider.forceFlush();
  await provider.shutdown();
}

async function main() {
  for (const [transport, make] of Object.entries(transports)) {
    await sendTraces(transport, make.traces);
    await sendMetrics(transport, make.metrics);
    await sendLogs(transport, make.logs);
  }
  const expected = Object.keys(transports).flatMap((t) => ['traces', 'metrics', 'logs'].map((s) => `${s}/${t}`));
  const failed = expected.filter((c) => !results[c] || results[c].length === 0 || results[c].some((r) => r !== 'ok'));
  console.log(JSON.stringify({ results, failed }));
  process.exit(failed.length === 0 ? 0 : 1);
}

main().catch((err) => {
  console.error('send_all.js failed:', err);
  process.exit(2);
});
