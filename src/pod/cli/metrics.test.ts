import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CHANNELS, podkitChannel } from '../../core/diagnostics.js';
import { render } from '../../core/metrics/exposition.js';
import { podEvents } from '../runtime/pod.js';
import { podMetrics } from './metrics.js';

test('pod metrics: lifecycle events published on the pod channel are counted by pod and event', () => {
  const collect = podMetrics(() => []);
  assert.equal(podEvents, podkitChannel(CHANNELS.podEvent), 'the runtime publishes on the channel the metrics read');
  podEvents.publish({ t: 0, pod: 'web', container: 'server', event: 'start' });
  podEvents.publish({ t: 0, pod: 'web', container: 'server', event: 'exit', detail: 'code 1' });
  podEvents.publish({ t: 0, pod: 'web', container: 'server', event: 'start' });
  const text = render(collect());
  assert.match(text, /podkit_pod_events_total\{pod="web",event="start"\} 2/);
  assert.match(text, /podkit_pod_events_total\{pod="web",event="exit"\} 1/);
});
