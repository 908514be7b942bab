// The one benchmark entry point: every figure is a ratio against a baseline measured in this same run,
// because these machines are shared and absolute numbers drift.
// Each benchmark is loaded only when it runs: the panel's pulls in playwright-core, whose sources alone are about 20 MB
// of heap that every full collection of the server benchmarks would otherwise mark again.

interface Row {
  name: string;
  value: string;
  ratio: string;
  goal: string;
  met: string;
}

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const want = (name: string) => only.length === 0 || only.some((o) => name.includes(o));
  const rows: Row[] = [];
  if (want('decoder')) {
    const d = await (await import('./decoder.bench')).benchDecoder();
    rows.push({
      name: d.name,
      value: `${d.ours.toFixed(1)} vs ws ${d.ws.toFixed(1)} ${d.unit}`,
      ratio: `${d.ratio.toFixed(2)}x`,
      goal: '>= 1.00x ws Receiver',
      met: d.ratio >= 1 ? 'yes' : 'NO',
    });
  }
  if (want('fanout')) {
    for (const f of await (await import('./fanout.bench')).benchFanout()) {
      rows.push({
        name: f.name,
        value: `${Math.round(f.value).toLocaleString('en-US')} ${f.unit}`,
        ratio: f.ratio === undefined ? '' : `${f.ratio.toFixed(2)}x ${f.baseline ?? ''}`.trim(),
        goal: f.goal ?? '',
        met: f.goal === undefined || f.ratio === undefined ? '' : f.met ? 'yes' : 'NO',
      });
    }
  }
  if (want('memory')) {
    for (const f of await (await import('./memory.bench')).benchMemory()) {
      rows.push({
        name: f.name,
        value: `${f.value.toFixed(1)} ${f.unit}`,
        ratio: f.ratio === undefined ? '' : `${f.ratio.toFixed(2)}x ${f.baseline ?? ''}`.trim(),
        goal: f.goal ?? '',
        met: f.goal === undefined || f.ratio === undefined ? '' : f.met ? 'yes' : 'NO',
      });
    }
  }
  if (want('panel')) {
    for (const f of await (await import('./panel.bench')).benchPanel()) {
      rows.push({
        name: f.name,
        value: `${f.value.toLocaleString('en-US')} ${f.unit}`,
        ratio: f.ratio === undefined ? '' : `${f.ratio.toFixed(2)}x ${f.baseline ?? ''}`.trim(),
        goal: f.goal ?? '',
        met: f.met === undefined ? '' : f.met ? 'yes' : 'NO',
      });
    }
  }
  if (want('load')) {
    for (const f of await (await import('./load.bench')).benchLoad()) {
      rows.push({
        name: f.name,
        value: `${f.value.toLocaleString('en-US', { maximumFractionDigits: f.value < 100 ? 2 : 0 })} ${f.unit}`,
        ratio: f.ratio === undefined ? '' : `${f.ratio.toFixed(2)}x ${f.baseline ?? ''}`.trim(),
        goal: f.goal ?? '',
        met: f.goal === undefined ? '' : f.met ? 'yes' : 'NO',
      });
    }
  }
  if (want('proxy')) {
    for (const f of await (await import('./proxy.bench')).benchProxy()) {
      rows.push({
        name: f.name,
        value: `${Math.round(f.value).toLocaleString('en-US')} ${f.unit}`,
        ratio: f.ratio === undefined ? '' : `${f.ratio.toFixed(2)}x ${f.baseline ?? ''}`.trim(),
        goal: f.goal ?? '',
        met: f.goal === undefined ? '' : f.met ? 'yes' : 'NO',
      });
    }
  }
  if (want('scenarios')) {
    for (const f of await (await import('./scenarios.bench')).benchScenarios()) {
      rows.push({
        name: f.name,
        value: `${f.value.toFixed(1)} ${f.unit}`,
        ratio: f.ratio === undefined ? '' : `${f.ratio.toFixed(2)}x ${f.baseline ?? ''}`.trim(),
        goal: f.goal ?? '',
        met: f.goal === undefined ? '' : f.met ? 'yes' : 'NO',
      });
    }
  }
  const verdicts: string[] = [];
  if (want('isolation')) {
    const r = await (await import('./isolation.bench')).benchIsolation();
    for (const f of r.rows) {
      rows.push({
        name: f.name,
        value: `${f.value.toFixed(1)} ${f.unit}`,
        ratio: f.ratio === undefined ? '' : `${f.ratio.toFixed(2)}x ${f.baseline ?? ''}`.trim(),
        goal: f.goal ?? '',
        met: f.goal === undefined ? '' : f.met ? 'yes' : 'NO',
      });
    }
    verdicts.push(r.verdict);
  }
  console.log('');
  console.table(rows);
  for (const v of verdicts) console.log(v);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
