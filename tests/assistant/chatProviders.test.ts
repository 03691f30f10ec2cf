/** Every ChatProvider adapter passes the port's conformance suite. */
import { createExtractiveProvider } from '../../api/assistant/providers/extractiveProvider';
import { createOpenAiProvider } from '../../api/assistant/providers/openaiProvider';
import { chatProviderConformance } from '../conformance/chatProvider.suite';
import { startFakeOpenAi, type FakeOpenAi } from '../fakes/openaiServer';

let fake: FakeOpenAi;
afterAll(async () => {
  await fake?.close();
});

chatProviderConformance('extractive', async () => createExtractiveProvider(), { expectedName: 'extractive' });

chatProviderConformance(
  'openai (against a local Chat Completions server)',
  async () => {
    fake = await startFakeOpenAi({ apiKey: 'sk-conformance' });
    fake.setDefault(() => 'London hotels are reimbursed up to EUR 185 per night [1]; see also [7].');
    return createOpenAiProvider({ apiKey: 'sk-conformance', baseUrl: fake.baseUrl, model: 'gpt-test', timeoutMs: 5000, maxRetries: 0 });
  },
  { expectedName: 'openai' },
);
