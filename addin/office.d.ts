/** The few Office.js (Outlook mailbox) calls the task pane uses; Office.js itself comes from Microsoft's CDN. */
declare namespace Office {
  interface AsyncResult<T> {
    status: 'succeeded' | 'failed';
    value: T;
    error?: { message: string };
  }
  interface Body {
    getAsync(coercionType: string, callback: (r: AsyncResult<string>) => void): void;
    setSelectedDataAsync?(data: string, options: { coercionType: string }, callback: (r: AsyncResult<void>) => void): void;
  }
  interface Item {
    itemType?: string;
    subject: string | { getAsync(callback: (r: AsyncResult<string>) => void): void };
    body: Body;
  }
  interface DialogMessage {
    message: string;
    origin?: string;
  }
  interface Dialog {
    addEventHandler(type: string, handler: (arg: DialogMessage | { error: number }) => void): void;
    close(): void;
  }
  const context: {
    displayLanguage?: string;
    mailbox: { item?: Item };
    requirements: { isSetSupported(name: string, version?: string): boolean };
    ui: {
      displayDialogAsync(url: string, options: { height: number; width: number; promptBeforeOpen?: boolean }, callback: (r: AsyncResult<Dialog>) => void): void;
      messageParent(message: string): void;
    };
  };
  function onReady(): Promise<{ host: string | null; platform: string | null }>;
  const CoercionType: { Text: string };
  const EventType: { DialogMessageReceived: string; DialogEventReceived: string };
}
